/* End-to-end runtime tests on hand-built programs: XORNet learns XOR,
 * runs are reproducible, logistic regression cannot learn XOR. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"

Test(train, xornet_learns_xor)
{
    Fixture f;
    fixture_xornet(&f);
    RtOptions opt = {0};
    bool ok;
    char *out = fixture_run(&f.prog, &opt, &ok);
    cr_assert(ok, "run failed:\n%s", out);
    cr_assert(strstr(out, "accuracy: 4/4 (100.0%)"), "%s", out);
    cr_assert(strstr(out, "Total params: 17 (17 trainable)"), "%s", out);
    free(out);
}
