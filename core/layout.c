/*
 * layout.c - the address-space layout of DESIGN section 1, computed from the paging
 * mode. The rules are checked at compile time for all three modes below, so that a
 * change to a constant that makes two areas overlap or breaks an alignment stops the
 * build rather than a boot.
 */
#include <svmm/layout.h>

/*
 * Compile-time checks, for 3, 4 and 5 levels:
 *  - the user half is exactly slots 0..255 and the stack slot is its last slot;
 *  - the direct map starts at the kernel base (slot 256) and is slot-aligned, so that
 *    it can use the largest pages;
 *  - slot 511 starts where the direct map's 255 slots end;
 *  - the fixmap and the kernel image sit inside slot 511 of the smallest mode (Sv39),
 *    hence of every mode, without overlapping, and are aligned to 2 MiB so that each
 *    can be covered by whole leaf tables.
 */
#define LAYOUT_CHECK_MODE(lv)                                                           \
	_Static_assert(SVMM_USER_END_L(lv) == 256u * SVMM_SLOT_SIZE_L(lv),             \
		       "user half is 256 slots");                                      \
	_Static_assert(SVMM_KERNEL_BASE_L(lv) % SVMM_SLOT_SIZE_L(lv) == 0,             \
		       "direct map is slot-aligned");                                  \
	_Static_assert(SVMM_KERNEL_BASE_L(lv) + 255u * SVMM_SLOT_SIZE_L(lv) ==         \
		       SVMM_KIO_BASE_L(lv), "slot 511 follows the direct map");       \
	_Static_assert(SVMM_FIXMAP_BASE >= SVMM_KIO_BASE_L(lv),                        \
		       "fixmap inside slot 511");                                      \
	_Static_assert(SVMM_NULL_GUARD < 255u * SVMM_SLOT_SIZE_L(lv),                  \
		       "null guard inside the user slots")

LAYOUT_CHECK_MODE(3);
LAYOUT_CHECK_MODE(4);
LAYOUT_CHECK_MODE(5);
_Static_assert(SVMM_KIMAGE_BASE % (256u * SVMM_MiB) == 0, "kernel image 256 MiB-aligned");
_Static_assert(SVMM_FIXMAP_BASE % (2u * SVMM_MiB) == 0, "fixmap 2 MiB-aligned");
_Static_assert(SVMM_FIXMAP_BASE + SVMM_FIXMAP_SIZE == SVMM_KIMAGE_BASE,
	       "fixmap ends where the image starts");
_Static_assert(SVMM_NULL_GUARD % SVMM_PAGE_SIZE == 0, "null guard is whole pages");
_Static_assert(SVMM_USTACK_GUARD % SVMM_PAGE_SIZE == 0, "stack guard is whole pages");
_Static_assert(LAYOUT_NAREAS == 8, "layout_init fills every area");

static void set_area(struct svmm_layout *l, enum layout_area a, svmm_va_t base, uint64_t size,
		     const char *name, const char *purpose, const char *pages)
{
	l->area[a].base = base;
	l->area[a].size = size;
	l->area[a].name = name;
	l->area[a].purpose = purpose;
	l->area[a].pages = pages;
}

int layout_init(struct svmm_layout *l, enum svmm_mode mode, uint64_t dmap_limit)
{
	if (!svmm_mode_valid(mode))
		return SVMM_EMODE;
	if (dmap_limit != 0 && dmap_limit < SVMM_GiB)
		return SVMM_ERANGE;

	struct svmm_layout n;
	uint64_t slot = svmm_slot_size(mode);
	n.mode = mode;
	n.levels = svmm_mode_levels(mode);
	n.va_bits = svmm_mode_va_bits(mode);
	n.slot_size = slot;
	n.user_end = svmm_user_end(mode);
	n.kernel_base = svmm_kernel_base(mode);
	n.ustack_top = n.user_end - SVMM_USTACK_GUARD;
	n.dmap_base = svmm_dmap_base(mode);
	n.dmap_size = svmm_dmap_size(mode);
	/* A limit is rounded down to whole gigapages, the direct map's natural unit. */
	if (dmap_limit != 0 && SVMM_ALIGN_DOWN(dmap_limit, SVMM_GiB) < n.dmap_size)
		n.dmap_size = SVMM_ALIGN_DOWN(dmap_limit, SVMM_GiB);

	svmm_va_t kio = svmm_kio_base(mode);
	const char *big;
	switch (mode) {
	case SVMM_SV39: big = "1G 2M 4K"; break;
	case SVMM_SV48: big = "512G 1G 2M 4K"; break;
	default:        big = "256T 512G 1G 2M 4K"; break;
	}
	set_area(&n, LAYOUT_NONE, 0, 0, "none", "not in any area", "-");
	set_area(&n, LAYOUT_NULL_GUARD, 0, SVMM_NULL_GUARD, "null-guard",
		 "never mapped: catches NULL dereferences", "-");
	set_area(&n, LAYOUT_USER, SVMM_NULL_GUARD, SVMM_USER_SLOTS * slot - SVMM_NULL_GUARD,
		 "user", "user memory (uvmem), one vmem arena per process", big);
	set_area(&n, LAYOUT_USTACK, SVMM_USTACK_SLOT * slot, slot - SVMM_USTACK_GUARD,
		 "ustack", "user call stack, grows down from ustack_top", "4K");
	set_area(&n, LAYOUT_DMAP, n.dmap_base, n.dmap_size, "dmap",
		 "direct map of RAM: va = dmap_base + pa", big);
	set_area(&n, LAYOUT_KARENA, kio, SVMM_FIXMAP_BASE - kio, "karena",
		 "kernel vmem: ioremap, vmalloc, kernel stacks", "2M 4K");
	set_area(&n, LAYOUT_FIXMAP, SVMM_FIXMAP_BASE, SVMM_FIXMAP_SIZE, "fixmap",
		 "per-hart temporary mappings (kmap)", "4K");
	set_area(&n, LAYOUT_KIMAGE, SVMM_KIMAGE_BASE, 0 - SVMM_KIMAGE_BASE, "kimage",
		 "kernel image, W^X by section", "2M 4K");
	*l = n;
	return 0;
}

int layout_check(const struct svmm_layout *l, svmm_print_fn out, void *ctx)
{
	const char *why = NULL;
	int bad = LAYOUT_NONE;
	if (!svmm_mode_valid(l->mode) || l->levels != svmm_mode_levels(l->mode) ||
	    l->va_bits != svmm_mode_va_bits(l->mode) || l->slot_size != svmm_slot_size(l->mode))
		why = "mode, levels, va_bits and slot_size agree";
	else if (l->user_end != svmm_user_end(l->mode) ||
		 l->kernel_base != svmm_kernel_base(l->mode))
		why = "the halves are the mode's";
	else if (l->ustack_top != l->user_end - SVMM_USTACK_GUARD)
		why = "the stack's top is SVMM_USTACK_GUARD below the end of the user half";
	else if (l->dmap_base != svmm_dmap_base(l->mode) || l->dmap_size == 0 ||
		 l->dmap_size > svmm_dmap_size(l->mode) || l->dmap_size % SVMM_GiB != 0)
		why = "the direct map starts at the kernel base, whole GiB, at most 255 slots";
	for (int a = LAYOUT_NULL_GUARD; why == NULL && a < LAYOUT_NAREAS; a++) {
		const struct layout_region *r = &l->area[a];
		bad = a;
		svmm_va_t last = r->base + r->size - 1u;
		if (r->size == 0 || r->name == NULL || r->purpose == NULL || r->pages == NULL)
			why = "every area has a size and its words";
		else if (!svmm_canonical(l->mode, r->base) || !svmm_canonical(l->mode, last) ||
			 (r->base < l->user_end) != (last < l->user_end))
			why = "every area lies inside one half";
		else if (a > LAYOUT_NULL_GUARD &&
			 (r->base < l->area[a - 1].base ||
			  r->base - l->area[a - 1].base < l->area[a - 1].size))
			why = "the areas are in address order and do not overlap";
	}
	if (why == NULL)
		return 0;
	if (out != NULL)
		svmm_printline(out, ctx, "layout: %s (%s, area %d)", why,
			       svmm_mode_name(l->mode), bad);
	return SVMM_EINVAL;
}

enum layout_area layout_area_of(const struct svmm_layout *l, svmm_va_t va)
{
	for (int a = LAYOUT_NULL_GUARD; a < LAYOUT_NAREAS; a++) {
		const struct layout_region *r = &l->area[a];
		/* Written as an offset so that the area ending at 2^64 needs no special case. */
		if (va >= r->base && va - r->base < r->size)
			return (enum layout_area)a;
	}
	return LAYOUT_NONE;
}

const struct layout_region *layout_region(const struct svmm_layout *l, enum layout_area a)
{
	if ((int)a <= LAYOUT_NONE || a >= LAYOUT_NAREAS)
		return NULL;
	return &l->area[a];
}

int layout_pa_to_va(const struct svmm_layout *l, svmm_pa_t pa, svmm_va_t *va)
{
	if (pa >= l->dmap_size)
		return SVMM_ERANGE;
	*va = l->dmap_base + pa;
	return 0;
}

int layout_va_to_pa(const struct svmm_layout *l, svmm_va_t va, svmm_pa_t *pa)
{
	if (va < l->dmap_base || va - l->dmap_base >= l->dmap_size)
		return SVMM_ERANGE;
	*pa = va - l->dmap_base;
	return 0;
}

const char *svmm_mode_name(enum svmm_mode mode)
{
	switch (mode) {
	case SVMM_SV39: return "sv39";
	case SVMM_SV48: return "sv48";
	case SVMM_SV57: return "sv57";
	}
	return "?";
}

/*
 * A size for the boot log: exact, as a whole unit or as a whole unit less a small
 * guard ("255G-64K"), so that nobody has to convert "16711616K" in their head.
 */
static void fmt_size_short(char *buf, size_t n, uint64_t bytes)
{
	for (unsigned shift = 60; shift >= 10; shift -= 10) {
		uint64_t unit = (uint64_t)1 << shift;
		uint64_t up = SVMM_ALIGN_UP(bytes, unit);
		if (up == 0 || bytes == 0)
			continue;
		if (up - bytes < unit / 1024) {
			char a[24], b[24];
			svmm_fmt_size(a, sizeof(a), up);
			if (up == bytes) {
				svmm_snprintf(buf, n, "%s", a);
			} else {
				svmm_fmt_size(b, sizeof(b), up - bytes);
				svmm_snprintf(buf, n, "%s-%s", a, b);
			}
			return;
		}
	}
	svmm_fmt_size(buf, n, bytes);
}

void layout_dump(const struct svmm_layout *l, svmm_print_fn out, void *ctx)
{
	char sz[32];
	fmt_size_short(sz, sizeof(sz), l->slot_size);
	svmm_printline(out, ctx, "svmm layout %s: %u levels, %u-bit va, root slot %s",
		       svmm_mode_name(l->mode), l->levels, l->va_bits, sz);
	unsigned shift = l->va_bits - 9u;
	for (int a = LAYOUT_NULL_GUARD; a < LAYOUT_NAREAS; a++) {
		const struct layout_region *r = &l->area[a];
		svmm_va_t last = r->base + r->size - 1u;
		unsigned s0 = (unsigned)(r->base >> shift) & 511u;
		unsigned s1 = (unsigned)(last >> shift) & 511u;
		fmt_size_short(sz, sizeof(sz), r->size);
		svmm_printline(out, ctx, "  %-10s 0x%016llx-0x%016llx %9s slot %3u-%3u  %s",
			       r->name, (unsigned long long)r->base, (unsigned long long)last,
			       sz, s0, s1, r->pages);
	}
}
