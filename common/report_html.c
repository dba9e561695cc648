/*
 * report_html.c - the run report page (see report_html.h).
 *
 * Layout of a run's Gantt chart (SVG user units, drawn at its natural size):
 *   a label column of LABEL_W on the left (stage names), then the time axis from the run's
 *   first event (t0) to its last end (t1) over PLOT_W, one ROW_H row per stage, ticks on top.
 * Bars carry class "bar <outcome>" and data-stage/data-attempt, so a test (or a reader of the
 * DOM) finds them without parsing geometry; each has a <title> for the hover text.
 */
#include "report_html.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LABEL_W 110
#define PLOT_W 820
#define ROW_H 30
#define AXIS_H 24
#define TICKS 6
/* Bars per stage row drawn (more attempts than this is a redelivery loop: the row says so). */
#define MAX_ATTEMPTS 32

static const char css[] =
    "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#16191f;"
    "background:#f2f3f3}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 8px;word-break:break-all}"
    ".meta{color:#5f6b7a;font-size:13px}"
    "section.run{background:#fff;border:1px solid #d5dbdb;border-radius:8px;padding:16px;"
    "margin:16px 0}"
    "table{border-collapse:collapse;width:100%;font-size:13px;margin-top:8px}"
    "th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeded;vertical-align:top}"
    "th{background:#fafafa;font-weight:600}"
    "td.t{white-space:nowrap}td.msg{white-space:pre-wrap;word-break:break-word;font-family:ui-"
    "monospace,monospace}"
    ".pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;color:#fff}"
    ".pill.succeeded{background:#1d8102}.pill.failed{background:#d13212}"
    ".pill.running,.pill.queued{background:#0073bb}.pill.waiting{background:#ec7211}.pill."
    "interrupted{background:#"
    "879596}"
    "svg.gantt{display:block;margin:8px 0;background:#fff;max-width:100%;height:auto}"
    "svg .bar.succeeded{fill:#1d8102}svg .bar.failed{fill:#d13212}"
    "svg .bar.running{fill:#0073bb}svg .bar.interrupted{fill:#879596}"
    "svg .wait{fill:url(#hatch)}svg .lane{fill:#f7f8f8}svg .grid{stroke:#d5dbdb}"
    "svg text{font:12px system-ui,sans-serif;fill:#16191f}svg "
    "text.in{fill:#fff;paint-order:stroke;stroke:rgba(0,0,0,.5);stroke-width:3px}"
    ".legend span{margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;"
    "margin-right:4px;vertical-align:-1px;border-radius:2px}"
    ".failures{background:#fff5f3;border:1px solid #f5b7a9;border-radius:8px;padding:12px 16px}";

void sl_rh_escape(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        default:
            /* Control characters have no business in a page; newlines and tabs stay. */
            if (c < 0x20 && c != '\n' && c != '\t')
                fputc(' ', out);
            else if (c == 0x7f)
                fputc(' ', out);
            else
                fputc(c, out);
        }
    }
}

/* "2024-05-01 03:04:05Z", or "-" for 0. */
static void fmt_time(long long ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm))
        snprintf(buf, len, "-");
}

/* "850ms", "12.3s", "4m05s", "2h03m". */
static void fmt_dur(long long ms, char *buf, size_t len)
{
    if (ms < 0)
        ms = 0;
    if (ms < 1000)
        snprintf(buf, len, "%lldms", ms);
    else if (ms < 60000)
        snprintf(buf, len, "%.1fs", (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(buf, len, "%lldm%02llds", ms / 60000, (ms / 1000) % 60);
    else
        snprintf(buf, len, "%lldh%02lldm", ms / 3600000, (ms / 60000) % 60);
}

/* The attempts of one stage: from its events, or one bar from the row's own times. */
static size_t stage_attempts(const sl_rh_stage *s, long long now_ms, sl_tl_attempt *a, size_t cap)
{
    size_t n = sl_tl_attempts(s->events, s->nevents, now_ms, a, cap);

    if (n == 0 && s->started_ms > 0 && cap > 0) {
        memset(&a[0], 0, sizeof(a[0]));
        a[0].attempt = s->attempt;
        a[0].start_ms = s->started_ms;
        a[0].end_ms = s->finished_ms > s->started_ms ? s->finished_ms : now_ms;
        a[0].outcome = !s->status                            ? SL_TL_RUNNING
                       : strcmp(s->status, "succeeded") == 0 ? SL_TL_SUCCEEDED
                       : strcmp(s->status, "failed") == 0    ? SL_TL_FAILED
                                                             : SL_TL_RUNNING;
        a[0].error_code = s->error_code;
        a[0].error_message = s->error_message;
        n = 1;
    }
    return n;
}

/* The run's status in one word: failed beats running beats succeeded. */
static const char *run_status(const sl_rh_run *r)
{
    int running = 0;

    for (size_t i = 0; i < r->nstages; i++) {
        const char *s = r->stages[i].status ? r->stages[i].status : "";
        if (strcmp(s, "failed") == 0)
            return "failed";
        if (strcmp(s, "succeeded") != 0)
            running = 1;
    }
    return running || r->nstages == 0 ? "running" : "succeeded";
}

/* The run's first start and last end over all stages' attempts; 0 when it has none. */
static void run_span(const sl_rh_run *r, long long now_ms, sl_tl_attempt *a, long long *t0,
                     long long *t1)
{
    *t0 = *t1 = 0;
    for (size_t i = 0; i < r->nstages; i++) {
        size_t n = stage_attempts(&r->stages[i], now_ms, a, MAX_ATTEMPTS);
        for (size_t k = 0; k < n; k++) {
            if (!*t0 || a[k].start_ms < *t0)
                *t0 = a[k].start_ms;
            if (a[k].end_ms > *t1)
                *t1 = a[k].end_ms;
        }
    }
}

static double xpos(long long t, long long t0, long long t1)
{
    return LABEL_W + (double)(t - t0) * PLOT_W / (double)(t1 - t0);
}

static void gantt(FILE *out, const sl_rh_run *r, long long now_ms, sl_tl_attempt *a)
{
    long long t0, t1;
    int h = AXIS_H + (int)r->nstages * ROW_H + 4;
    char d[32], ts[32];

    run_span(r, now_ms, a, &t0, &t1);
    if (!t0) {
        fputs("<p class=\"meta\">No stage has started yet.</p>\n", out);
        return;
    }
    if (t1 <= t0)
        t1 = t0 + 1000;
    fprintf(out,
            "<svg class=\"gantt\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"stages over time\">\n"
            "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
            "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#f89256\"/>"
            "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#fff\" stroke-width=\"3\"/>"
            "</pattern></defs>\n",
            LABEL_W + PLOT_W + 10, h, LABEL_W + PLOT_W + 10, h);
    for (int k = 0; k < TICKS; k++) {
        long long t = t0 + (t1 - t0) * k / (TICKS - 1);
        double x = xpos(t, t0, t1);
        fmt_dur(t - t0, d, sizeof(d));
        fprintf(out,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
                "<text x=\"%.1f\" y=\"14\" text-anchor=\"%s\">+%s</text>\n",
                x, AXIS_H - 4, x, h, x,
                k == 0           ? "start"
                : k == TICKS - 1 ? "end"
                                 : "middle",
                d);
    }
    for (size_t i = 0; i < r->nstages; i++) {
        const sl_rh_stage *s = &r->stages[i];
        int y = AXIS_H + (int)i * ROW_H;
        size_t n = stage_attempts(s, now_ms, a, MAX_ATTEMPTS);

        fprintf(out, "<rect class=\"lane\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>", LABEL_W,
                y + 2, PLOT_W, ROW_H - 4);
        fprintf(out, "<text x=\"4\" y=\"%d\">", y + ROW_H / 2 + 4);
        sl_rh_escape(out, s->stage);
        fputs("</text>\n", out);
        for (size_t k = 0; k < n; k++) {
            double x0 = xpos(a[k].start_ms, t0, t1), x1 = xpos(a[k].end_ms, t0, t1);
            double w = x1 - x0 < 2 ? 2 : x1 - x0;
            const char *oc = sl_tl_outcome_name(a[k].outcome);

            fmt_dur(a[k].end_ms - a[k].start_ms, d, sizeof(d));
            fmt_time(a[k].start_ms, ts, sizeof(ts));
            fprintf(out, "<g><rect class=\"bar %s\" data-stage=\"", oc);
            sl_rh_escape(out, s->stage);
            fprintf(out,
                    "\" data-attempt=\"%d\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                    "rx=\"3\"><title>",
                    a[k].attempt, x0, y + 5, w, ROW_H - 10);
            sl_rh_escape(out, s->stage);
            fprintf(out, " attempt %d: %s, %s from %s", a[k].attempt, oc, d, ts);
            if (a[k].error_code) {
                fputs(" (", out);
                sl_rh_escape(out, a[k].error_code);
                fputs(")", out);
            }
            fputs("</title></rect>", out);
            for (size_t j = 0; j < a[k].nwaits; j++) {
                double wx0 = xpos(a[k].waits[j].start_ms, t0, t1);
                double wx1 = xpos(a[k].waits[j].end_ms, t0, t1);
                char wd[32];
                fmt_dur(a[k].waits[j].end_ms - a[k].waits[j].start_ms, wd, sizeof(wd));
                fprintf(out,
                        "<rect class=\"wait\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\">"
                        "<title>waiting %s</title></rect>",
                        wx0, y + 5, wx1 - wx0 < 1 ? 1 : wx1 - wx0, ROW_H - 10, wd);
            }
            if (w > 60)
                fprintf(out, "<text class=\"in\" x=\"%.1f\" y=\"%d\">#%d %s</text>", x0 + 4,
                        y + ROW_H / 2 + 4, a[k].attempt, d);
            fputs("</g>\n", out);
        }
    }
    fputs("</svg>\n", out);
}

/* Every transition of the run, oldest first across stages (a merge of the stages' lists). */
static void timeline(FILE *out, const sl_rh_run *r)
{
    size_t *pos = calloc(r->nstages + 1, sizeof(*pos));
    char ts[32];

    if (!pos)
        return;
    fputs("<table class=\"timeline\"><tr><th>time (UTC)</th><th>stage</th><th>attempt</th>"
          "<th>status</th><th>error</th></tr>\n",
          out);
    for (;;) {
        size_t best = r->nstages;
        for (size_t i = 0; i < r->nstages; i++)
            if (pos[i] < r->stages[i].nevents &&
                (best == r->nstages ||
                 r->stages[i].events[pos[i]].at_ms < r->stages[best].events[pos[best]].at_ms))
                best = i;
        if (best == r->nstages)
            break;
        {
            const sl_tl_event *e = &r->stages[best].events[pos[best]++];
            fmt_time(e->at_ms, ts, sizeof(ts));
            fprintf(out, "<tr><td class=\"t\">%s</td><td>", ts);
            sl_rh_escape(out, r->stages[best].stage);
            fprintf(out, "</td><td>%d</td><td><span class=\"pill ", e->attempt);
            sl_rh_escape(out, e->status);
            fputs("\">", out);
            sl_rh_escape(out, e->status);
            fputs("</span></td><td class=\"msg\">", out);
            if (e->error_code) {
                sl_rh_escape(out, e->error_code);
                fputs(": ", out);
            }
            sl_rh_escape(out, e->error_message);
            fputs("</td></tr>\n", out);
        }
    }
    fputs("</table>\n", out);
    free(pos);
}

/* The failed attempts of runs[0..n) with their causes; returns how many. */
static size_t failures(FILE *out, const sl_rh_run *runs, size_t n, long long now_ms,
                       sl_tl_attempt *a, int write)
{
    size_t count = 0;
    char ts[32];

    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < runs[i].nstages; j++) {
            const sl_rh_stage *s = &runs[i].stages[j];
            size_t na = stage_attempts(s, now_ms, a, MAX_ATTEMPTS);
            for (size_t k = 0; k < na; k++) {
                if (a[k].outcome != SL_TL_FAILED)
                    continue;
                count++;
                if (!write)
                    continue;
                fmt_time(a[k].end_ms, ts, sizeof(ts));
                fprintf(out, "<tr class=\"failure\"><td><a href=\"#run-%zu\">", i);
                sl_rh_escape(out, runs[i].run_id);
                fputs("</a></td><td>", out);
                sl_rh_escape(out, s->stage);
                fprintf(out, "</td><td>%d</td><td class=\"t\">%s</td><td>", a[k].attempt, ts);
                sl_rh_escape(out, a[k].error_code ? a[k].error_code : "(no code)");
                fputs("</td><td class=\"msg cause\">", out);
                sl_rh_escape(out, a[k].error_message ? a[k].error_message : "(no message)");
                fputs("</td></tr>\n", out);
            }
        }
    return count;
}

int sl_rh_write(FILE *out, const sl_rh_run *runs, size_t n, long long now_ms, const char *title)
{
    sl_tl_attempt *a = calloc(MAX_ATTEMPTS, sizeof(*a));
    char ts[32], d[32];
    size_t nfail;

    if (!a)
        return -1;
    fmt_time(now_ms, ts, sizeof(ts));
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          out);
    sl_rh_escape(out, title);
    fprintf(out, "</title>\n<style>%s</style></head>\n<body>\n<h1>", css);
    sl_rh_escape(out, title);
    fprintf(out, "</h1>\n<p class=\"meta\">%zu runs, generated %s from the run ledger.</p>\n", n,
            ts);
    fputs("<p class=\"legend meta\"><span><i style=\"background:#1d8102\"></i>succeeded</span>"
          "<span><i style=\"background:#d13212\"></i>failed</span>"
          "<span><i style=\"background:#0073bb\"></i>running</span>"
          "<span><i style=\"background:#879596\"></i>interrupted (a later attempt took over)"
          "</span><span><i style=\"background:#f89256\"></i>waiting (an export slot)</span></p>\n",
          out);

    /* Summary. */
    fputs("<table class=\"summary\"><tr><th>run</th><th>cluster</th><th>status</th>"
          "<th>created (UTC)</th><th>duration</th></tr>\n",
          out);
    for (size_t i = 0; i < n; i++) {
        long long t0, t1;
        run_span(&runs[i], now_ms, a, &t0, &t1);
        fmt_time(runs[i].created_ms, ts, sizeof(ts));
        fmt_dur(t0 ? t1 - t0 : 0, d, sizeof(d));
        fprintf(out, "<tr><td><a href=\"#run-%zu\">", i);
        sl_rh_escape(out, runs[i].run_id);
        fputs("</a></td><td>", out);
        sl_rh_escape(out, runs[i].cluster);
        fprintf(out,
                "</td><td><span class=\"pill %s\">%s</span></td><td class=\"t\">%s</td><td>%s</td>"
                "</tr>\n",
                run_status(&runs[i]), run_status(&runs[i]), ts, t0 ? d : "-");
    }
    fputs("</table>\n", out);

    /* Failures with their causes. */
    nfail = failures(out, runs, n, now_ms, a, 0);
    fprintf(out, "<section class=\"failures\" id=\"failures\"><h2>Failures (%zu)</h2>\n", nfail);
    if (nfail) {
        fputs("<table><tr><th>run</th><th>stage</th><th>attempt</th><th>at (UTC)</th>"
              "<th>code</th><th>cause</th></tr>\n",
              out);
        (void)failures(out, runs, n, now_ms, a, 1);
        fputs("</table>\n", out);
    } else {
        fputs("<p class=\"meta\">None.</p>\n", out);
    }
    fputs("</section>\n", out);

    /* Per run: the chart and the timeline. */
    for (size_t i = 0; i < n; i++) {
        const sl_rh_run *r = &runs[i];
        fprintf(out, "<section class=\"run\" id=\"run-%zu\"><h2>", i);
        sl_rh_escape(out, r->run_id);
        fprintf(out, " <span class=\"pill %s\">%s</span></h2>\n<p class=\"meta\">cluster ",
                run_status(r), run_status(r));
        sl_rh_escape(out, r->cluster);
        fputs(" &middot; mode ", out);
        sl_rh_escape(out, r->mode);
        if (r->snapshot_id) {
            fputs(" &middot; snapshot ", out);
            sl_rh_escape(out, r->snapshot_id);
        }
        fputs(" &middot; date ", out);
        sl_rh_escape(out, r->date);
        fputs("</p>\n", out);
        gantt(out, r, now_ms, a);
        timeline(out, r);
        fputs("</section>\n", out);
    }
    fputs("</body></html>\n", out);
    free(a);
    return ferror(out) ? -1 : 0;
}
