/* Touches 4 pages of a static array: stores, loads, then increments, and
   exits with a raw syscall (no libc, so the whole lackey trace is small).
   Built with gcc -O0 -static -nostdlib -fno-pie -no-pie. */
static char arr[4 * 4096] __attribute__((aligned(4096)));

void _start(void)
{
    long sum = 0;
    for (int i = 0; i < 4; i++)
        arr[i * 4096] = (char)i;
    for (int i = 0; i < 4; i++)
        sum += arr[i * 4096];
    for (int i = 0; i < 4; i++)
        arr[i * 4096 + 64]++;
    __asm__ volatile("syscall" :: "a"(60), "D"(sum & 3));
    for (;;) ;
}
