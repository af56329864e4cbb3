// Storm load: one process opening (and reading a byte of) one file over and
// over, as a program stuck in a loop on a config file would.
// usage: storm [-r RATE] [-t SECONDS] [-w | -a] COUNT FILE
//   -r RATE  at most RATE opens per second (paced in 1 ms steps); default: flat out
//   -t SECS  stop after SECS seconds even if COUNT opens are not done
//   -w       open for writing instead (O_WRONLY, nothing written)
//   -a       alternate: even opens read, odd opens write
// Prints {"opens":N,"seconds":S,"per_second":R} on stdout when done.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void usage(const char *me) {
  fprintf(stderr, "usage: %s [-r RATE] [-t SECONDS] [-w | -a] COUNT FILE\n", me);
  exit(2);
}

int main(int argc, char **argv) {
  double rate = 0, limit = 0;
  int write_mode = 0, alternate = 0, opt;
  while ((opt = getopt(argc, argv, "r:t:wa")) != -1) {
    if (opt == 'r') rate = strtod(optarg, NULL);
    else if (opt == 't') limit = strtod(optarg, NULL);
    else if (opt == 'w') write_mode = 1;
    else if (opt == 'a') alternate = 1;
    else usage(argv[0]);
  }
  if (argc - optind != 2) usage(argv[0]);
  char *end;
  long n = strtol(argv[optind], &end, 10);
  if (*end || n < 0) {
    fprintf(stderr, "%s: COUNT must be a non-negative integer, got '%s'\n", argv[0], argv[optind]);
    return 2;
  }
  const char *file = argv[optind + 1];
  char byte;
  double t0 = now();
  // pacing: after each 1 ms worth of opens, sleep until its slot
  long step = rate > 0 ? (long)(rate / 1000) : 0;
  if (rate > 0 && step < 1) step = 1;
  long i;
  for (i = 0; i < n; i++) {
    if (limit > 0 && (i & 1023) == 0 && now() - t0 >= limit) break;
    int w = alternate ? (int)(i & 1) : write_mode;
    int fd = open(file, (w ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
      perror(file);
      return 1;
    }
    if (!w && read(fd, &byte, 1) < 0) {
      perror("read");
      return 1;
    }
    close(fd);
    if (step && (i + 1) % step == 0) {
      double due = t0 + (i + 1) / rate;
      double wait = due - now();
      if (wait > 0) {
        struct timespec ts = { (time_t)wait, (long)((wait - (time_t)wait) * 1e9) };
        nanosleep(&ts, NULL);
      }
    }
  }
  double secs = now() - t0;
  printf("{\"opens\":%ld,\"seconds\":%.6f,\"per_second\":%.0f}\n", i, secs, secs > 0 ? i / secs : 0);
  return 0;
}
