/* The start-up floor for `make bench` (f): a C hello-world built with
 * nnc's CFLAGS, timed as a whole process beside `nnc check` and `nnc run`. */
#include <stdio.h>

int main(void)
{
    puts("hello, world");
    return 0;
}
