/*
 * cputime: run a command and print, on one line to the file given with -o,
 * "<peak RSS KiB> <CPU ns>" of that command (user + system, every thread,
 * from wait4), for the offline benchmarks (bench/lib.sh's measure).
 *
 *     cputime -o FILE CMD [ARG...]
 *
 * Why not GNU time: it prints %U and %S with two decimals, so the CPU
 * column of bench/offline.sh came in 10 ms steps, about a tenth of the
 * ratio on the short traces. wait4's rusage carries the same figure in
 * microseconds: Linux scales the tick samples so that user + system is
 * the task's exact runtime (cputime_adjust), so the sum is precise to the
 * microsecond. The child is made with fork(), not vfork(): an exec after
 * vfork would charge this process's pages to the child's peak RSS (the
 * figure stays comparable with GNU time's %M).
 *
 * The command's output goes where this program's goes. The exit status is
 * the command's (128 + the signal when a signal ended it; 127 when it
 * could not be run).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[1], "-o") != 0) {
		fprintf(stderr, "usage: cputime -o FILE CMD [ARG...]\n");
		return 2;
	}
	const char *out = argv[2];
	pid_t pid = fork();
	if (pid < 0) {
		perror("cputime: fork");
		return 127;
	}
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		fprintf(stderr, "cputime: %s: %s\n", argv[3], strerror(errno));
		_exit(127);
	}
	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("cputime: wait4");
			return 127;
		}
	}
	long long ns = ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
		       ((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
	FILE *f = fopen(out, "w");
	if (f == NULL) {
		fprintf(stderr, "cputime: %s: %s\n", out, strerror(errno));
		return 127;
	}
	fprintf(f, "%ld %lld\n", ru.ru_maxrss, ns);
	if (fclose(f) != 0) {
		fprintf(stderr, "cputime: %s: %s\n", out, strerror(errno));
		return 127;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
