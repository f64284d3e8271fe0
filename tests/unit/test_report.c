/* The sparkline and the progress bar's text (src/runtime/report.c). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "../../src/runtime/report.h"

Test(report, sparkline_log_scale)
{
    double loss[] = {1.0, 0.1, 0.01, 0.001, 0.0001};
    char buf[256];
    rt_sparkline_format(buf, sizeof buf, loss, 5);
    cr_assert_str_eq(buf, "loss █▆▅▃▁ 1 -> 0.0001");
}

Test(report, sparkline_linear_and_flat)
{
    double loss[] = {0.5, 0.4, 0.3}, flat[] = {2.0, 2.0};
    char buf[256];
    rt_sparkline_format(buf, sizeof buf, loss, 3);
    cr_assert_str_eq(buf, "loss █▅▁ 0.5 -> 0.3");
    rt_sparkline_format(buf, sizeof buf, flat, 2);
    cr_assert_str_eq(buf, "loss ▁▁ 2 -> 2");
}

Test(report, sparkline_stops_at_divergence)
{
    double loss[] = {0.7, 3.0, NAN};
    char buf[256];
    rt_sparkline_format(buf, sizeof buf, loss, 3);
    cr_assert_str_eq(buf, "loss ▁█ 0.7 -> nan");
    rt_sparkline_format(buf, sizeof buf, loss + 2, 1);
    cr_assert_str_eq(buf, "loss nan");
}

Test(report, sparkline_is_at_most_its_width)
{
    double loss[1000];
    for (int i = 0; i < 1000; i++)
        loss[i] = 1000.0 - i;
    char buf[256];
    rt_sparkline_format(buf, sizeof buf, loss, 1000);
    /* "loss " + RT_SPARK_WIDTH cells of 3 bytes each + the numbers */
    cr_assert_eq(strncmp(buf + 5 + 3 * RT_SPARK_WIDTH, " 1000 -> 1", 10), 0, "%s", buf);
}

/* Durations are capped at 99:59:59. */
Test(report, progress_bar_text)
{
    char buf[512];
    rt_progress_format(buf, sizeof buf, 250, 1000, 0.0123, 0.5, false);
    cr_assert_str_eq(buf, "epoch  250/1000 █████░░░░░░░░░░░░░░░ loss 0.0123  500 epochs/s  0:02 left");
    rt_progress_format(buf, sizeof buf, 1, 100000000, 0.5, 1.0, false);
    cr_assert(strstr(buf, "99:59:59 left"), "%s", buf);
    rt_progress_format(buf, sizeof buf, 5, 10, 0.5, 1.0, true);
    cr_assert(strstr(buf, "\033[32m") && strstr(buf, "\033[0m"), "%s", buf);
}
