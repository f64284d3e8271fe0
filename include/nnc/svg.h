/* A minimal SVG writer for nnc's plots: primitives with coordinates printed
 * as %.2f (so files are reproducible byte for byte) and text escaped into
 * well-formed XML. It knows nothing about charts; see nnc/plot.h for those. */
#ifndef NNC_SVG_H
#define NNC_SVG_H

#include <stdbool.h>
#include <stdio.h>

typedef struct Svg {
    FILE *f;
    bool bad_number; /* a non-finite coordinate was asked for (a bug upstream) */
} Svg;

/* The XML prolog, the <svg> element with a viewBox of w x h, font-family
 * sans-serif, and a white background. */
void svg_begin(Svg *s, FILE *f, double w, double h);
void svg_end(Svg *s);

/* Raw markup, for tags and attributes that hold no coordinates. */
void svg_raw(Svg *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One coordinate, %.2f, never "-0.00", never "nan". */
void svg_num(Svg *s, double v);
/* Text content or an attribute value, escaped; control characters and bytes
 * that are not valid UTF-8 become '?', so any label gives well-formed XML. */
void svg_escaped(Svg *s, const char *text);

void svg_line(Svg *s, double x1, double y1, double x2, double y2, const char *stroke,
              double width);
/* stroke may be NULL for no outline. */
void svg_rect(Svg *s, double x, double y, double w, double h, const char *fill,
              const char *stroke, double stroke_width);

typedef enum SvgAnchor { SVG_START, SVG_MIDDLE, SVG_END } SvgAnchor;
typedef struct SvgFont {
    double size;
    SvgAnchor anchor;
    bool bold;
    double rotate;     /* degrees around (x, y); 0 for none */
    const char *fill;  /* NULL: dark grey */
} SvgFont;
/* y is the baseline. */
void svg_text(Svg *s, double x, double y, SvgFont font, const char *text);
/* An estimate of the width of text in a sans-serif font of the given size,
 * good enough to lay out margins and legends without a font engine. */
double svg_text_width(const char *text, double size);

/* Path data: svg_path_move/svg_path_line between svg_raw("<path ... d=\"")
 * and svg_raw("\"/>"). */
void svg_path_move(Svg *s, double x, double y);
void svg_path_line(Svg *s, double x, double y);

#endif
