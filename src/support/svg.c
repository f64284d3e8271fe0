/* SVG primitives (see nnc/svg.h). Every number that places something goes
 * through svg_num so the output never depends on more than %.2f. */
#include "nnc/svg.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

/* Coordinates beyond this are clamped: they are off any sane canvas, and a
 * huge value printed with %.2f would be hundreds of digits long. */
static const double SVG_MAX_COORD = 1e7;

void svg_begin(Svg *s, FILE *f, double w, double h)
{
    s->f = f;
    s->bad_number = false;
    svg_raw(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    svg_raw(s, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"");
    svg_num(s, w);
    svg_raw(s, "\" height=\"");
    svg_num(s, h);
    svg_raw(s, "\" viewBox=\"0 0 ");
    svg_num(s, w);
    svg_raw(s, " ");
    svg_num(s, h);
    svg_raw(s, "\" font-family=\"sans-serif\">\n");
    svg_rect(s, 0, 0, w, h, "#ffffff", NULL, 0);
}

void svg_end(Svg *s) { svg_raw(s, "</svg>\n"); }

void svg_raw(Svg *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(s->f, fmt, ap);
    va_end(ap);
}

void svg_num(Svg *s, double v)
{
    if (!isfinite(v)) {
        s->bad_number = true;
        v = 0;
    }
    if (v > SVG_MAX_COORD)
        v = SVG_MAX_COORD;
    if (v < -SVG_MAX_COORD)
        v = -SVG_MAX_COORD;
    /* -0.004 would print as "-0.00"; the same point must print the same. */
    if (fabs(v) < 0.005)
        v = 0;
    fprintf(s->f, "%.2f", v);
}

/* Length of the valid UTF-8 sequence at p that XML accepts, or 0. */
static size_t utf8_valid_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return (c >= 0x20 || c == '\t' || c == '\n') ? 1 : 0;
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        if (c == 0xed)
            hi = 0x9f; /* UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f; /* beyond U+10FFFF */
    } else {
        return 0;
    }
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    /* U+FFFE and U+FFFF are not XML characters. */
    if (n == 3 && c == 0xef && p[1] == 0xbf && p[2] >= 0xbe)
        return 0;
    return n;
}

void svg_escaped(Svg *s, const char *text)
{
    const unsigned char *p = (const unsigned char *)(text ? text : "");
    while (*p) {
        size_t n = utf8_valid_len(p);
        if (n == 0) {
            fputc('?', s->f);
            p++;
            continue;
        }
        switch (*p) {
        case '&': fputs("&amp;", s->f); break;
        case '<': fputs("&lt;", s->f); break;
        case '>': fputs("&gt;", s->f); break;
        case '"': fputs("&quot;", s->f); break;
        case '\'': fputs("&apos;", s->f); break;
        default: fwrite(p, 1, n, s->f); break;
        }
        p += n;
    }
}

void svg_line(Svg *s, double x1, double y1, double x2, double y2, const char *stroke,
              double width)
{
    svg_raw(s, "<line x1=\"");
    svg_num(s, x1);
    svg_raw(s, "\" y1=\"");
    svg_num(s, y1);
    svg_raw(s, "\" x2=\"");
    svg_num(s, x2);
    svg_raw(s, "\" y2=\"");
    svg_num(s, y2);
    svg_raw(s, "\" stroke=\"%s\" stroke-width=\"", stroke);
    svg_num(s, width);
    svg_raw(s, "\"/>\n");
}

void svg_rect(Svg *s, double x, double y, double w, double h, const char *fill,
              const char *stroke, double stroke_width)
{
    svg_raw(s, "<rect x=\"");
    svg_num(s, x);
    svg_raw(s, "\" y=\"");
    svg_num(s, y);
    svg_raw(s, "\" width=\"");
    svg_num(s, w);
    svg_raw(s, "\" height=\"");
    svg_num(s, h);
    svg_raw(s, "\" fill=\"%s\"", fill);
    if (stroke) {
        svg_raw(s, " stroke=\"%s\" stroke-width=\"", stroke);
        svg_num(s, stroke_width);
        svg_raw(s, "\"");
    }
    svg_raw(s, "/>\n");
}

void svg_text(Svg *s, double x, double y, SvgFont font, const char *text)
{
    static const char *const anchors[] = {"start", "middle", "end"};
    svg_raw(s, "<text x=\"");
    svg_num(s, x);
    svg_raw(s, "\" y=\"");
    svg_num(s, y);
    svg_raw(s, "\" font-size=\"");
    svg_num(s, font.size);
    svg_raw(s, "\"");
    if (font.anchor != SVG_START)
        svg_raw(s, " text-anchor=\"%s\"", anchors[font.anchor]);
    if (font.bold)
        svg_raw(s, " font-weight=\"bold\"");
    if (font.rotate != 0) {
        svg_raw(s, " transform=\"rotate(");
        svg_num(s, font.rotate);
        svg_raw(s, " ");
        svg_num(s, x);
        svg_raw(s, " ");
        svg_num(s, y);
        svg_raw(s, ")\"");
    }
    svg_raw(s, " fill=\"%s\">", font.fill ? font.fill : "#222222");
    svg_escaped(s, text);
    svg_raw(s, "</text>\n");
}

double svg_text_width(const char *text, double size)
{
    /* Average advance of sans-serif faces (DejaVu Sans is the widest common
     * default): about 0.6 em for digits and lower case, more for capitals. */
    double em = 0;
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        if ((*p & 0xc0) == 0x80)
            continue; /* UTF-8 continuation byte: same character */
        if (*p >= 'A' && *p <= 'Z')
            em += 0.7;
        else if (*p == ' ' || *p == '.' || *p == ',' || *p == '-' || *p == '(' || *p == ')')
            em += 0.36;
        else
            em += 0.6;
    }
    return em * size;
}

void svg_path_move(Svg *s, double x, double y)
{
    svg_raw(s, "M");
    svg_num(s, x);
    svg_raw(s, " ");
    svg_num(s, y);
}

void svg_path_line(Svg *s, double x, double y)
{
    svg_raw(s, "L");
    svg_num(s, x);
    svg_raw(s, " ");
    svg_num(s, y);
}
