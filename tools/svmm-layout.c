/*
 * svmm-layout - print svmm's address-space layout for a paging mode.
 *
 *   svmm-layout [sv39|sv48|sv57] [--dmap-limit BYTES] [--svg FILE]
 *
 * The table lists every area as [start, end) with its size, root slots, purpose and
 * the page sizes svmm uses there. --svg draws the 512 root slots to scale (the
 * non-canonical hole between the halves is shown as a break, since at scale it would
 * be millions of times wider than the rest), and slot 511 enlarged below, also to
 * scale, so that its sub-areas can be seen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svmm/fmt.h>
#include <svmm/layout.h>

static const char *size_str(uint64_t bytes)
{
	static char buf[4][32];
	static int k;
	char *b = buf[k++ & 3];
	if (bytes == 0) {
		strcpy(b, "16E");   /* only the whole space wraps to 0 */
		return b;
	}
	/* Exact binary units read best; a fraction gets one decimal. */
	static const char *u[] = { "B", "K", "M", "G", "T", "P", "E" };
	int i = 0;
	double v = (double)bytes;
	while (v >= 1024 && i < 6) {
		v /= 1024;
		i++;
	}
	/* Exact sizes print exactly; others (a slot less a guard) approximately, marked ~. */
	uint64_t unit = (uint64_t)1 << (10 * i), frac = bytes & (unit - 1);
	if (frac == 0)
		snprintf(b, 32, "%llu%s", (unsigned long long)(bytes >> (10 * i)), u[i]);
	else if ((unsigned __int128)frac * 100 % unit == 0)
		snprintf(b, 32, "%.2f%s", v, u[i]);
	else
		snprintf(b, 32, "~%.2f%s", v, u[i]);
	return b;
}

static void slots_str(const struct svmm_layout *l, svmm_va_t base, uint64_t size, char *out,
		      size_t n)
{
	unsigned shift = l->va_bits - 9;
	unsigned first = (unsigned)((base >> shift) & 511);
	unsigned last = (unsigned)(((base + size - 1) >> shift) & 511);
	if (first == last)
		snprintf(out, n, "%u", first);
	else
		snprintf(out, n, "%u-%u", first, last);
}

static void print_table(const struct svmm_layout *l)
{
	printf("svmm layout, %s: %u levels, %u-bit virtual addresses, root slot = %s\n",
	       svmm_mode_name(l->mode), l->levels, l->va_bits, size_str(l->slot_size));
	printf("%-10s %-18s %-18s %8s %-7s %-19s %s\n", "area", "start", "end", "size", "slots",
	       "pages", "purpose");
	for (int a = LAYOUT_NULL_GUARD; a < LAYOUT_NAREAS; a++) {
		const struct layout_region *r = layout_region(l, (enum layout_area)a);
		char sl[16];
		slots_str(l, r->base, r->size, sl, sizeof(sl));
		char end[24];
		if (r->base + r->size == 0)
			snprintf(end, sizeof(end), "2^64");
		else
			snprintf(end, sizeof(end), "0x%016llx", (unsigned long long)(r->base + r->size));
		printf("%-10s 0x%016llx %-18s %8s %-7s %-19s %s\n", r->name,
		       (unsigned long long)r->base, end, size_str(r->size), sl, r->pages, r->purpose);
		if (a == LAYOUT_USTACK) {
			printf("%-10s 0x%016llx 0x%016llx %8s %-7s %-19s %s\n", "(guard)",
			       (unsigned long long)l->ustack_top, (unsigned long long)l->user_end,
			       size_str(l->user_end - l->ustack_top), "255", "-",
			       "never mapped: top of the user half");
			printf("%-10s 0x%016llx 0x%016llx %8s %-7s %-19s %s\n", "(hole)",
			       (unsigned long long)l->user_end, (unsigned long long)l->kernel_base,
			       size_str(l->kernel_base - l->user_end), "-", "-",
			       "non-canonical: any access faults");
		}
		if (a == LAYOUT_DMAP && r->size < 255 * l->slot_size) {
			svmm_va_t e = r->base + r->size;
			printf("%-10s 0x%016llx 0x%016llx %8s %-7s %-19s %s\n", "(unused)",
			       (unsigned long long)e,
			       (unsigned long long)(r->base + 255 * l->slot_size),
			       size_str(255 * l->slot_size - r->size), "-", "-",
			       "direct-map window above svmm.dmap_limit: reached by kmap");
		}
	}
	printf("__va(pa) = 0x%016llx + pa for pa < %s; other frames go through the fixmap\n",
	       (unsigned long long)l->dmap_base, size_str(l->dmap_size));
}

/* ---- SVG ---- */

static const char *colour[LAYOUT_NAREAS] = {
	"#ffffff", "#444444", "#8fbcdb", "#3a7dbf", "#9fd39f", "#f3c26b", "#e0795b", "#b05fc0",
};

static void svg_rect(FILE *f, double x, double y, double w, double h, const char *fill,
		     const char *title)
{
	if (w < 1.5)
		w = 1.5;   /* keep thin areas visible */
	fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" "
		   "stroke=\"#222\" stroke-width=\"0.5\"><title>%s</title></rect>\n",
		x, y, w, h, fill, title);
}

/*
 * The picture checks its own geometry, so that check-pictures (make check) fails on a
 * drawing with a label past the edge or a line through a label: every text's box
 * (its width estimated at 0.6 em per character, a little more than sans-serif's
 * average) and the zoom's two lines are kept, and svg_check compares them.
 */
struct text_box { double x0, x1, y0, y1; char s[96]; };
static struct text_box boxes[64];
static unsigned nboxes;
struct segment { double ax, ay, bx, by; };
static struct segment lines[4];
static unsigned nlines;

static void svg_text(FILE *f, double x, double y, const char *anchor, int size, const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\">%s</text>\n",
		x, y, anchor, size, s);
	double w = 0.6 * size * (double)strlen(s);
	double x0 = strcmp(anchor, "end") == 0 ? x - w : strcmp(anchor, "middle") == 0 ? x - w / 2 : x;
	if (nboxes < sizeof(boxes) / sizeof(boxes[0])) {
		struct text_box *b = &boxes[nboxes++];
		*b = (struct text_box){ x0, x0 + w, y - 0.8 * size, y + 0.2 * size, "" };
		snprintf(b->s, sizeof(b->s), "%s", s);
	}
}

/* Does the segment cross the box? Its x range over the box's rows against the box's. */
static bool crosses(const struct segment *g, const struct text_box *b)
{
	double lo = g->ay < g->by ? g->ay : g->by, hi = g->ay < g->by ? g->by : g->ay;
	double y0 = b->y0 > lo ? b->y0 : lo, y1 = b->y1 < hi ? b->y1 : hi;
	if (y0 > y1)
		return false;
	double xa = g->ax + (g->bx - g->ax) * (y0 - g->ay) / (g->by - g->ay);
	double xb = g->ax + (g->bx - g->ax) * (y1 - g->ay) / (g->by - g->ay);
	double xl = xa < xb ? xa : xb, xh = xa < xb ? xb : xa;
	return xh >= b->x0 && xl <= b->x1;
}

/* 0, or 1 after saying on stderr which label is cut or crossed. */
static int svg_check(const char *path, double width)
{
	for (unsigned i = 0; i < nboxes; i++) {
		if (boxes[i].x0 < 0 || boxes[i].x1 > width) {
			fprintf(stderr, "svmm-layout: %s: label \"%s\" runs past the picture's edge\n",
				path, boxes[i].s);
			return 1;
		}
		for (unsigned k = 0; k < nlines; k++)
			if (crosses(&lines[k], &boxes[i])) {
				fprintf(stderr, "svmm-layout: %s: the zoom line runs through \"%s\"\n",
					path, boxes[i].s);
				return 1;
			}
	}
	return 0;
}

static int write_svg(const struct svmm_layout *l, const char *path)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		return 1;
	}
	const double W = 1100, x0 = 40, bar = 1000, gap = 24;
	const double slot = (bar - gap) / 512.0;
	char t[256];
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"360\" "
		   "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" "
		   "fill=\"white\"/>\n", W);
	snprintf(t, sizeof(t), "svmm address-space layout, %s: %u-bit VA, 512 root slots of %s, "
		 "drawn to scale by slot", svmm_mode_name(l->mode), l->va_bits,
		 size_str(l->slot_size));
	svg_text(f, x0, 24, "start", 15, t);

	/* The whole space: slot s at x0 + s * slot, plus the gap after slot 255. */
	const double y = 60, h = 50;
	for (int a = LAYOUT_NULL_GUARD; a < LAYOUT_NAREAS; a++) {
		const struct layout_region *r = layout_region(l, (enum layout_area)a);
		if (a == LAYOUT_FIXMAP || a == LAYOUT_KIMAGE || a == LAYOUT_NULL_GUARD)
			continue;   /* too small at this scale: in the zoom below */
		double s0, s1;
		bool kernel = r->base >= l->kernel_base;
		svmm_va_t off = kernel ? r->base - l->kernel_base : r->base;
		s0 = (double)off / (double)l->slot_size + (kernel ? 256 : 0);
		s1 = s0 + (double)r->size / (double)l->slot_size;
		if (a == LAYOUT_KARENA)
			s1 = 512;   /* slot 511 as a whole, detailed below */
		double x = x0 + s0 * slot + (kernel ? gap : 0);
		snprintf(t, sizeof(t), "%s: %s", r->name, r->purpose);
		svg_rect(f, x, y, (s1 - s0) * slot, h, a == LAYOUT_KARENA ? "#f3c26b" : colour[a], t);
	}
	/* The non-canonical hole, not to scale. */
	double hx = x0 + 256 * slot;
	fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"url(#h)\" "
		   "stroke=\"none\"/>\n", hx, y, gap, h);
	fprintf(f, "<defs><pattern id=\"h\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
		   "patternTransform=\"rotate(45)\"><rect width=\"3\" height=\"6\" fill=\"#bbb\"/>"
		   "</pattern></defs>\n");
	/* Labels above and below the bar. */
	snprintf(t, sizeof(t), "user, slots 0-254 (%s)", size_str(255 * l->slot_size));
	svg_text(f, x0 + 127 * slot, y + h / 2 + 5, "middle", 13, t);
	snprintf(t, sizeof(t), "direct map, slots 256-510 (%s)", size_str(255 * l->slot_size));
	svg_text(f, x0 + gap + 383 * slot, y + h / 2 + 5, "middle", 13, t);
	svg_text(f, x0 + 255.5 * slot, y - 6, "end", 11, "slot 255: user stack");
	/* Below the bar: the three addresses on one row, next to the edges they mark, the
	   hole's name on the row under them; both rows stay left of the zoom's left line,
	   which leaves slot 511 going down to the left. */
	svg_text(f, hx + gap / 2, y + h + 32, "middle", 10, "non-canonical hole (not to scale)");
	svg_text(f, x0 + gap + 511.5 * slot, y - 6, "end", 11, "slot 511: kernel IO");
	if (l->dmap_size < 255 * l->slot_size) {
		double e = x0 + gap + (256 + (double)l->dmap_size / (double)l->slot_size) * slot;
		fprintf(f, "<line x1=\"%.2f\" y1=\"%.0f\" x2=\"%.2f\" y2=\"%.0f\" stroke=\"red\" "
			   "stroke-dasharray=\"3,2\"/>\n", e, y - 4, e, y + h + 4);
		snprintf(t, sizeof(t), "dmap_limit %s", size_str(l->dmap_size));
		/* Above the bar, clear of "slot 511" there; else below, left of the line. */
		if (e + 3 + 0.6 * 10 * (double)strlen(t) < x0 + bar - 120)
			svg_text(f, e + 3, y - 6, "start", 10, t);
		else
			svg_text(f, e - 3, y + h + 48, "end", 10, t);
	}
	/* The three address labels stand on one row (checked below). */
	unsigned addr0 = nboxes;
	snprintf(t, sizeof(t), "0x%llx", 0ull);
	svg_text(f, x0, y + h + 16, "start", 10, t);
	snprintf(t, sizeof(t), "0x%llx", (unsigned long long)l->user_end);
	svg_text(f, hx - 2, y + h + 16, "end", 10, t);
	snprintf(t, sizeof(t), "0x%llx", (unsigned long long)l->kernel_base);
	svg_text(f, hx + gap + 2, y + h + 16, "start", 10, t);
	bool one_row = boxes[addr0].y0 == boxes[addr0 + 1].y0 && boxes[addr0].y0 == boxes[addr0 + 2].y0;

	/* Slot 511 enlarged, to scale inside the slot. */
	const double zy = 220, zh = 50;
	svmm_va_t kio = svmm_kio_base(l->mode);
	double zx511 = x0 + gap + 511 * slot;
	fprintf(f, "<path d=\"M%.2f %.0f L%.0f %.0f M%.2f %.0f L%.0f %.0f\" stroke=\"#888\" "
		   "fill=\"none\"/>\n", zx511, y + h, x0, zy, zx511 + slot, y + h, x0 + bar, zy);
	lines[nlines++] = (struct segment){ zx511, y + h, x0, zy };
	lines[nlines++] = (struct segment){ zx511 + slot, y + h, x0 + bar, zy };
	for (int a = LAYOUT_KARENA; a <= LAYOUT_KIMAGE; a++) {
		const struct layout_region *r = layout_region(l, (enum layout_area)a);
		double x = x0 + bar * ((double)(r->base - kio) / (double)l->slot_size);
		double w = bar * ((double)r->size / (double)l->slot_size);
		snprintf(t, sizeof(t), "%s: %s", r->name, r->purpose);
		svg_rect(f, x, zy, w, zh, colour[a], t);
		char lab[160];
		snprintf(lab, sizeof(lab), "%s %s @0x%llx", r->name, size_str(r->size),
			 (unsigned long long)r->base);
		/* The two small areas at the top: labels end at their right edges, on two
		   rows, so that neither runs past the picture's right edge. */
		if (a == LAYOUT_FIXMAP)
			svg_text(f, x + w, zy + zh + 14, "end", 10, lab);
		else if (a == LAYOUT_KIMAGE)
			svg_text(f, x0 + bar, zy + zh + 30, "end", 10, lab);
		else
			svg_text(f, x + 4, zy + zh / 2 + 5, "start", 12, lab);
	}
	snprintf(t, sizeof(t), "slot 511 enlarged: [0x%llx, 2^64), %s", (unsigned long long)kio,
		 size_str(l->slot_size));
	/* Centred between the zoom's two lines, which it then crosses neither. */
	svg_text(f, x0 + bar / 2, zy - 8, "middle", 12, t);
	snprintf(t, sizeof(t), "null guard: the first %s of slot 0 is never mapped; user stack "
		 "top 0x%llx", size_str(SVMM_NULL_GUARD), (unsigned long long)l->ustack_top);
	svg_text(f, x0, 340, "start", 11, t);
	fprintf(f, "</svg>\n");
	if (!one_row) {
		fprintf(stderr, "svmm-layout: %s: the address labels stand at different heights\n",
			path);
		fclose(f);
		return 1;
	}
	if (svg_check(path, W) != 0) {
		fclose(f);
		return 1;
	}
	if (fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: svmm-layout [sv39|sv48|sv57] [--dmap-limit BYTES] [--svg FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	enum svmm_mode mode = SVMM_SV39;
	const char *svg = NULL;
	uint64_t limit = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "sv39") == 0)
			mode = SVMM_SV39;
		else if (strcmp(argv[i], "sv48") == 0)
			mode = SVMM_SV48;
		else if (strcmp(argv[i], "sv57") == 0)
			mode = SVMM_SV57;
		else if (strcmp(argv[i], "--svg") == 0 && i + 1 < argc)
			svg = argv[++i];
		else if (strcmp(argv[i], "--dmap-limit") == 0 && i + 1 < argc)
			limit = strtoull(argv[++i], NULL, 0);
		else
			usage();
	}
	struct svmm_layout l;
	int err = layout_init(&l, mode, limit);
	if (err != 0) {
		fprintf(stderr, "svmm-layout: %s\n", svmm_strerror(err));
		return 1;
	}
	print_table(&l);
	if (svg != NULL)
		return write_svg(&l, svg);
	return 0;
}
