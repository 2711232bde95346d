/* svg.h - a small line-chart writer: stacked panels over one time axis.
 *
 * inferd draws its own load-test figure rather than depend on a plotting
 * stack: the picture is a handful of polylines, axes and labels, and SVG is
 * text. Each panel gets a frame, y grid lines with tick labels at "nice"
 * steps (1, 2, 2.5 or 5 times a power of ten), x tick labels on the shared time
 * axis, a title and a legend entry per series. NaN values are gaps: a line
 * breaks there, and a value with no finite neighbour is drawn as a dot.
 * All text is XML-escaped, so any model name gives well-formed output.
 *
 * Every panel is one <g class="panel"> element, so a reader (or a test)
 * can find the panels. Pure: writes into a caller's buffer, no I/O.
 */
#ifndef INFERD_LOADTEST_SVG_H
#define INFERD_LOADTEST_SVG_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct svg_series {
    const char *label;
    const double *y; /* n values (as the figure's x); NaN = no value */
    bool dashed;
    int color; /* index into the palette; -1 = by position in the panel */
} svg_series_t;

typedef struct svg_panel {
    const char *title;
    const char *y_label;
    const svg_series_t *series;
    size_t n_series;
    double y_max; /* fixed top of the y axis, or NaN to fit the data */
} svg_panel_t;

/* Appends a whole SVG document to out: a title, then the panels stacked
 * top to bottom, sharing x (n values, seconds; need not start at 0). With
 * n = 0, or a panel with no finite value, the panel says "no data". */
void svg_write_figure(buf_t *out, const char *title, const char *x_label, const double *x, size_t n,
                      const svg_panel_t *panels, size_t n_panels);

/* Appends text with &, <, >, " and ' escaped, and control characters other
 * than tab and newline (not allowed in XML 1.0) replaced by '?'. */
void svg_append_escaped(buf_t *out, const char *text);

/* The tick step for an axis from 0 to max with at most `ticks` intervals:
 * the smallest of 1, 2, 2.5 or 5 times a power of ten that is at least
 * max / ticks. max <= 0 or not finite gives 1. */
double svg_nice_step(double max, int ticks);

#endif
