/* ranges.c -- reads hex code points (stdin) and prints, as C table rows, the
** ranges of those whose current (utf8proc) category the BERT pipeline treats
** specially: controls/format/private (Cc Cf Co Cs), punctuation (P*) and
** nonspacing marks (Mn). Used by gen_hf_unicode.sh. */
#include <stdio.h>
#include <utf8proc.h>
static int special(int c) {
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF: case UTF8PROC_CATEGORY_PO: case UTF8PROC_CATEGORY_MN:
        return 1;
    default:
        return 0;
    }
}
int main(void) {
    unsigned c, lo = 0, hi = 0;
    int open = 0, n = 0;
    while (scanf("%x", &c) == 1) {
        if (!special((int)c)) continue;
        if (open && c == hi + 1) { hi = c; continue; }
        if (open) { printf("    { 0x%05X, 0x%05X },%s", lo, hi, ++n % 3 ? "" : "\n"); }
        lo = hi = c;
        open = 1;
    }
    if (open) printf("    { 0x%05X, 0x%05X },\n", lo, hi);
    return 0;
}
