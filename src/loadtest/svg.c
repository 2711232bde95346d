/* svg.c - stacked line-chart panels as one SVG document (see svg.h).
 *
 * The geometry is fixed (a 1000-pixel-wide figure, a legend column on the
 * right) because the figure has one job, the load-test report; a layout
 * engine would be more code than the charts. Coordinates are written with
 * one decimal: finer is invisible and only makes the file bigger.
 */
#include "loadtest/svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FIG_WIDTH      1000.0
#define FIG_LEFT       80.0  /* room for y tick labels and the y label */
#define FIG_LEGEND     230.0 /* legend column right of the plots */
#define FIG_TOP        60.0  /* figure title */
#define PANEL_HEIGHT   160.0
#define PANEL_GAP      70.0 /* x tick labels, then the next panel's title */
#define FIG_BOTTOM     50.0 /* the last panel's x tick labels and the x label */
#define LEGEND_LINE    16.0
#define Y_TICKS        4
#define X_TICKS        8
#define PLOT_WIDTH     (FIG_WIDTH - FIG_LEFT - FIG_LEGEND)
#define LEGEND_ENTRIES ((size_t)(PANEL_HEIGHT / LEGEND_LINE) - 1)

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define PALETTE_SIZE (sizeof(palette) / sizeof(palette[0]))

void svg_append_escaped(buf_t *out, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        switch (*p) {
        case '&':
            buf_append_str(out, "&amp;");
            break;
        case '<':
            buf_append_str(out, "&lt;");
            break;
        case '>':
            buf_append_str(out, "&gt;");
            break;
        case '"':
            buf_append_str(out, "&quot;");
            break;
        case '\'':
            buf_append_str(out, "&apos;");
            break;
        default:
            if (*p < 0x20 && *p != '\t' && *p != '\n')
                buf_append_str(out, "?");
            else
                buf_append(out, p, 1);
        }
    }
}

double svg_nice_step(double max, int ticks)
{
    if (!isfinite(max) || max <= 0 || ticks < 1)
        return 1.0;
    double raw = max / ticks;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    double nice = f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 2.5 ? 2.5 : f <= 5.0 ? 5.0 : 10.0;
    return nice * mag;
}

/* The fewest decimals (at most 6) that write every multiple of step
 * exactly: 0 for 5, 1 for 2.5 or 0.5, 2 for 0.25. */
static int step_decimals(double step)
{
    double scaled = step;
    for (int d = 0; d < 6; d++, scaled *= 10)
        if (fabs(scaled - round(scaled)) < 1e-6 * scaled)
            return d;
    return 6;
}

typedef struct frame {
    double left, top, width, height;
    double x0, x1, y_top;
} frame_t;

static double px(const frame_t *f, double x)
{
    return f->left + (x - f->x0) / (f->x1 - f->x0) * f->width;
}

static double py(const frame_t *f, double y)
{
    double v = y < 0 ? 0 : y > f->y_top ? f->y_top : y;
    return f->top + f->height - v / f->y_top * f->height;
}

static void x_range(const double *x, size_t n, double *x0, double *x1)
{
    *x0 = INFINITY;
    *x1 = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        *x0 = x[i] < *x0 ? x[i] : *x0;
        *x1 = x[i] > *x1 ? x[i] : *x1;
    }
    if (!isfinite(*x0)) {
        *x0 = 0;
        *x1 = 1;
    } else if (*x1 <= *x0) {
        *x1 = *x0 + 1;
    }
}

static double panel_max(const svg_panel_t *p, const double *x, size_t n, bool *any)
{
    double max = 0;
    *any = false;
    for (size_t s = 0; s < p->n_series; s++)
        for (size_t i = 0; i < n; i++) {
            double v = p->series[s].y[i];
            if (!isfinite(v) || !isfinite(x[i]))
                continue;
            *any = true;
            max = v > max ? v : max;
        }
    return max;
}

static void write_y_axis(buf_t *out, const frame_t *f, const char *label)
{
    double step = svg_nice_step(f->y_top, Y_TICKS);
    int dec = step_decimals(step);
    for (int k = 0; k * step <= f->y_top * (1 + 1e-9) && k <= 4 * Y_TICKS; k++) {
        double y = py(f, k * step);
        buf_appendf(out,
                    "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                    "stroke=\"#dddddd\"/>\n",
                    f->left, y, f->left + f->width, y);
        buf_appendf(
            out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%.*f</text>\n",
            f->left - 6, y + 4, dec, k * step);
    }
    buf_appendf(out,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" "
                "transform=\"rotate(-90 %.1f %.1f)\">",
                f->left - 55, f->top + f->height / 2, f->left - 55, f->top + f->height / 2);
    svg_append_escaped(out, label);
    buf_append_str(out, "</text>\n");
}

static void write_x_axis(buf_t *out, const frame_t *f)
{
    double step = svg_nice_step(f->x1 - f->x0, X_TICKS);
    int dec = step_decimals(step);
    double first = ceil(f->x0 / step - 1e-9) * step;
    for (int k = 0; first + k * step <= f->x1 * (1 + 1e-9) + 1e-9 && k <= 4 * X_TICKS; k++) {
        double v = first + k * step;
        double x = px(f, v);
        buf_appendf(out,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n",
                    x, f->top + f->height, x, f->top + f->height + 4);
        buf_appendf(
            out,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">%.*f</text>\n", x,
            f->top + f->height + 16, dec, v);
    }
}

/* One series: polylines over runs of finite points, a dot for a lone one. */
static void write_series(buf_t *out, const frame_t *f, const svg_series_t *s, const char *color,
                         const double *x, size_t n)
{
    const char *dash = s->dashed ? " stroke-dasharray=\"6 4\"" : "";
    size_t i = 0;
    while (i < n) {
        while (i < n && !(isfinite(x[i]) && isfinite(s->y[i])))
            i++;
        size_t start = i;
        while (i < n && isfinite(x[i]) && isfinite(s->y[i]))
            i++;
        if (i - start == 1) {
            buf_appendf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                        px(f, x[start]), py(f, s->y[start]), color);
        } else if (i - start > 1) {
            buf_appendf(out,
                        "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s points=\"",
                        color, dash);
            for (size_t k = start; k < i; k++)
                buf_appendf(out, "%s%.1f,%.1f", k > start ? " " : "", px(f, x[k]), py(f, s->y[k]));
            buf_append_str(out, "\"/>\n");
        }
    }
}

static void write_legend(buf_t *out, const frame_t *f, const svg_panel_t *p)
{
    double lx = f->left + f->width + 20;
    size_t shown = p->n_series > LEGEND_ENTRIES ? LEGEND_ENTRIES - 1 : p->n_series;
    buf_append_str(out, "<g class=\"legend\">\n");
    for (size_t s = 0; s < shown; s++) {
        const svg_series_t *se = &p->series[s];
        const char *color = palette[(se->color >= 0 ? (size_t)se->color : s) % PALETTE_SIZE];
        double y = f->top + 8 + (double)s * LEGEND_LINE;
        buf_appendf(out,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                    "stroke-width=\"2\"%s/>\n",
                    lx, y, lx + 22, y, color, se->dashed ? " stroke-dasharray=\"6 4\"" : "");
        buf_appendf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">", lx + 28, y + 4);
        svg_append_escaped(out, se->label);
        buf_append_str(out, "</text>\n");
    }
    if (shown < p->n_series)
        buf_appendf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">and %zu more</text>\n", lx,
                    f->top + 12 + (double)shown * LEGEND_LINE, p->n_series - shown);
    buf_append_str(out, "</g>\n");
}

static void write_panel(buf_t *out, size_t index, const svg_panel_t *p, const double *x, size_t n,
                        double x0, double x1)
{
    bool any;
    double max = panel_max(p, x, n, &any);
    frame_t f = {.left = FIG_LEFT,
                 .top = FIG_TOP + (double)index * (PANEL_HEIGHT + PANEL_GAP),
                 .width = PLOT_WIDTH,
                 .height = PANEL_HEIGHT,
                 .x0 = x0,
                 .x1 = x1};
    if (isfinite(p->y_max) && p->y_max > 0) {
        f.y_top = p->y_max;
    } else {
        double step = svg_nice_step(max, Y_TICKS);
        f.y_top = max > 0 ? ceil(max / step - 1e-9) * step : 1.0;
    }
    buf_appendf(out, "<g class=\"panel\" id=\"panel-%zu\">\n", index + 1);
    buf_appendf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" font-weight=\"bold\">", f.left,
                f.top - 10);
    svg_append_escaped(out, p->title);
    buf_append_str(out, "</text>\n");
    write_y_axis(out, &f, p->y_label);
    write_x_axis(out, &f);
    buf_appendf(out,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                "stroke=\"#333333\"/>\n",
                f.left, f.top, f.width, f.height);
    if (!any)
        buf_appendf(out,
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" "
                    "fill=\"#888888\">no data</text>\n",
                    f.left + f.width / 2, f.top + f.height / 2);
    for (size_t s = 0; s < p->n_series; s++) {
        const svg_series_t *se = &p->series[s];
        write_series(out, &f, se, palette[(se->color >= 0 ? (size_t)se->color : s) % PALETTE_SIZE],
                     x, n);
    }
    write_legend(out, &f, p);
    buf_append_str(out, "</g>\n");
}

void svg_write_figure(buf_t *out, const char *title, const char *x_label, const double *x, size_t n,
                      const svg_panel_t *panels, size_t n_panels)
{
    double height =
        FIG_TOP + (double)n_panels * (PANEL_HEIGHT + PANEL_GAP) - PANEL_GAP + FIG_BOTTOM;
    double x0, x1;
    x_range(x, n, &x0, &x1);
    buf_appendf(out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n",
                FIG_WIDTH, height, FIG_WIDTH, height);
    buf_append_str(out, "<title>");
    svg_append_escaped(out, title);
    buf_append_str(out, "</title>\n");
    buf_appendf(out, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", FIG_WIDTH,
                height);
    buf_appendf(out,
                "<text x=\"%.1f\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" "
                "font-weight=\"bold\">",
                FIG_LEFT + PLOT_WIDTH / 2);
    svg_append_escaped(out, title);
    buf_append_str(out, "</text>\n");
    for (size_t i = 0; i < n_panels; i++)
        write_panel(out, i, &panels[i], x, n, x0, x1);
    buf_appendf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\">",
                FIG_LEFT + PLOT_WIDTH / 2, height - 12);
    svg_append_escaped(out, x_label);
    buf_append_str(out, "</text>\n</svg>\n");
}
