/* GUPS with a hot set, the program of the README's "Real traces" section.
 *
 * A 2 GiB table is first touched in page order (one store per 4 KiB page),
 * then N random read-modify-write updates (default 3,000,000), 90 % of them
 * to a hot eighth of the table (256 MiB) and 10 % anywhere (HeMem, Raybuck
 * et al., SOSP 2021, section 5.1).  Built two ways:
 *
 *   gcc -O2 -o gups gups.c               the hot eighth first: first touch puts it on the top tier
 *   gcc -O2 -DHOT_LAST -o gups2 gups.c   the hot eighth last: it starts on the lower tier
 *
 * Traced with
 *
 *   valgrind --tool=lackey --trace-mem=yes --log-file=gups2.lackey ./gups2 3000000
 *
 * (about 2 minutes and 1.4 GB here), then replayed with
 *
 *   pghot replay gups2.lackey --policies pghot,pghot-v8,pghot-throttled,numab2,tpp,damon,memtis,oracle,none
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define TABLE (2UL << 30)

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], 0, 10) : 3000000UL;
	uint64_t *t = malloc(TABLE);
	unsigned long words = TABLE / 8, hot = words / 8;
#ifdef HOT_LAST
	unsigned long hot0 = words - hot;
#else
	unsigned long hot0 = 0;
#endif
	uint64_t x = 88172645463325252ULL, sum = 0;

	if (!t)
		return 1;
	for (unsigned long i = 0; i < words; i += 512)  /* first touch, page by page */
		t[i] = i;
	for (unsigned long k = 0; k < n; k++) {
		x ^= x << 13;  /* xorshift64 */
		x ^= x >> 7;
		x ^= x << 17;
		unsigned long idx = (x % 10 < 9) ? hot0 + (x >> 8) % hot : (x >> 8) % words;
		t[idx] ^= x;
		sum += t[idx];
	}
	printf("%lu\n", (unsigned long)sum);  /* the updates are used: not optimised away */
	return 0;
}
