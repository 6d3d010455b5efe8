/*
 * delay-line: a packet-level link emulator for the test namespaces
 * (test/support/delay-line.ts drives it; see the usage there).
 *
 * This kernel has no netem, so delay and loss live in user space. Why a TUN
 * program rather than the alternatives: NFQUEUE can only accept or drop a packet
 * in order (holding thousands of packets for 60 ms means thousands of pending
 * verdicts), and tc + eBPF (EDT timestamps on the fq qdisc) would need clang and
 * still has no loss model of its own; two TUN devices and a FIFO per direction
 * are all we need, protocol-agnostic (UDP and TCP cross the same code).
 *
 * It runs inside the router namespace R and opens two TUN devices (no packet
 * info header), one per direction: R's policy routing sends everything that
 * arrives from A's link into the first and everything from B's link into the
 * second. Each packet read from a device is
 *   1. dropped with probability `loss` (xorshift64* PRNG, seeded: reproducible),
 *   2. serialised onto a link of `rate_bps` (0 = no cap): it leaves the
 *      bottleneck at link_free = max(now, link_free) + bits / rate, and is
 *      dropped (tail drop) when more than `limit` bytes are already waiting,
 *   3. held until link_free + `delay_us` (the one-way delay),
 * then written back into the same device: the kernel sees it arrive on that
 * TUN and forwards it with the main table to the other side. Delay and rate
 * are constant per direction, so due times only grow: a FIFO ring per
 * direction is the time-ordered queue. One thread, ppoll() with nanosecond
 * timeouts (timer slack 1 us), reads in batches until EAGAIN.
 *
 *   delay-line TUN_AB TUN_BA
 *
 * stdout: {"t":"ready"} once both devices exist (the caller then brings them
 * up and routes through them). stdin, one command a line:
 *   set delay_us=N rate_bps=N loss=F limit=BYTES seed=N   (any subset)
 *   stats        -> {"t":"stats","ab":{...},"ba":{...}}
 * It exits when stdin closes (its parent is gone); the devices go with it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define SLOT 2048   /* bytes per queued packet (the devices' MTU is 1500) */
#define SLOTS 16384 /* packets held per direction at most */
#define BATCH 256   /* reads per device per wake-up at most */

struct pkt {
  uint64_t due;
  uint32_t len;
  uint8_t data[SLOT];
};

struct dir {
  const char *name;
  int fd;
  struct pkt *ring;
  uint32_t head, count;
  uint64_t link_free, last_due, rng;
  uint64_t in, out, lost, overflow, write_err;
};

static uint64_t delay_ns = 0, rate_bps = 0, limit_bytes = 1 << 20;
static double loss = 0;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* xorshift64*: uniform in [0, 1) */
static double uniform(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return (double)((*s * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static int tun_open(const char *name) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    perror("open /dev/net/tun");
    exit(1);
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    perror("TUNSETIFF");
    exit(1);
  }
  return fd;
}

static void seed(struct dir *d, uint64_t s) { d->rng = s ? s : 0x9e3779b97f4a7c15ull; }

/* a packet of `len` bytes was just read into the tail slot at time `now` */
static void admit(struct dir *d, uint32_t len, uint64_t now) {
  d->in++;
  if (loss > 0 && uniform(&d->rng) < loss) {
    d->lost++;
    return;
  }
  uint64_t due = now;
  if (rate_bps) {
    uint64_t start = d->link_free > now ? d->link_free : now;
    /* bytes still waiting for the bottleneck ahead of this packet */
    uint64_t backlog = (start - now) * rate_bps / 8000000000ull;
    if (backlog + len > limit_bytes) {
      d->overflow++;
      return;
    }
    d->link_free = start + (uint64_t)len * 8000000000ull / rate_bps;
    due = d->link_free;
  }
  due += delay_ns;
  if (due < d->last_due) due = d->last_due; /* the delay was lowered: keep FIFO order */
  d->last_due = due;
  struct pkt *p = &d->ring[(d->head + d->count) % SLOTS];
  p->due = due;
  p->len = len;
  d->count++;
}

static void read_batch(struct dir *d) {
  for (int i = 0; i < BATCH; i++) {
    if (d->count == SLOTS) { /* full: read into a scratch slot and drop */
      static uint8_t scratch[SLOT];
      if (read(d->fd, scratch, SLOT) < 0) return;
      d->in++;
      d->overflow++;
      continue;
    }
    struct pkt *p = &d->ring[(d->head + d->count) % SLOTS];
    ssize_t n = read(d->fd, p->data, SLOT);
    if (n <= 0) return; /* EAGAIN: drained */
    admit(d, (uint32_t)n, now_ns());
  }
}

static void deliver(struct dir *d, uint64_t now) {
  while (d->count && d->ring[d->head].due <= now) {
    struct pkt *p = &d->ring[d->head];
    if (write(d->fd, p->data, p->len) == (ssize_t)p->len) d->out++;
    else d->write_err++;
    d->head = (d->head + 1) % SLOTS;
    d->count--;
  }
}

static void print_stats(struct dir *d) {
  printf("{\"in\":%llu,\"out\":%llu,\"lost\":%llu,\"overflow\":%llu,\"writeErrors\":%llu,\"queued\":%u}", (unsigned long long)d->in,
         (unsigned long long)d->out, (unsigned long long)d->lost, (unsigned long long)d->overflow, (unsigned long long)d->write_err,
         d->count);
}

static void command(char *line, struct dir *dirs) {
  if (strncmp(line, "stats", 5) == 0) {
    printf("{\"t\":\"stats\",\"ab\":");
    print_stats(&dirs[0]);
    printf(",\"ba\":");
    print_stats(&dirs[1]);
    printf("}\n");
    fflush(stdout);
    return;
  }
  if (strncmp(line, "set", 3) != 0) {
    fprintf(stderr, "delay-line: unknown command: %s\n", line);
    return;
  }
  for (char *tok = strtok(line + 3, " \t"); tok; tok = strtok(NULL, " \t")) {
    char *eq = strchr(tok, '=');
    if (!eq) continue;
    *eq = 0;
    const char *v = eq + 1;
    if (!strcmp(tok, "delay_us")) delay_ns = strtoull(v, NULL, 10) * 1000ull;
    else if (!strcmp(tok, "rate_bps")) rate_bps = strtoull(v, NULL, 10);
    else if (!strcmp(tok, "loss")) loss = strtod(v, NULL);
    else if (!strcmp(tok, "limit")) limit_bytes = strtoull(v, NULL, 10);
    else if (!strcmp(tok, "seed")) {
      uint64_t s = strtoull(v, NULL, 10);
      seed(&dirs[0], s);
      seed(&dirs[1], s * 0x9e3779b97f4a7c15ull + 1);
    } else fprintf(stderr, "delay-line: unknown setting %s\n", tok);
  }
  printf("{\"t\":\"set\"}\n");
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: delay-line TUN_AB TUN_BA\n");
    return 2;
  }
  prctl(PR_SET_TIMERSLACK, 1000UL); /* 1 us, not the default 50 us */
  struct dir dirs[2] = {{.name = argv[1]}, {.name = argv[2]}};
  for (int i = 0; i < 2; i++) {
    dirs[i].fd = tun_open(dirs[i].name);
    dirs[i].ring = malloc(sizeof(struct pkt) * SLOTS);
    if (!dirs[i].ring) return 1;
    seed(&dirs[i], i + 1);
  }
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  printf("{\"t\":\"ready\"}\n");
  fflush(stdout);

  char buf[4096];
  size_t have = 0;
  for (;;) {
    uint64_t now = now_ns();
    deliver(&dirs[0], now);
    deliver(&dirs[1], now);
    uint64_t next = UINT64_MAX;
    for (int i = 0; i < 2; i++)
      if (dirs[i].count && dirs[i].ring[dirs[i].head].due < next) next = dirs[i].ring[dirs[i].head].due;
    struct timespec ts, *tp = NULL;
    if (next != UINT64_MAX) {
      uint64_t wait = next > now ? next - now : 0;
      ts.tv_sec = (time_t)(wait / 1000000000ull);
      ts.tv_nsec = (long)(wait % 1000000000ull);
      tp = &ts;
    }
    struct pollfd fds[3] = {{dirs[0].fd, POLLIN, 0}, {dirs[1].fd, POLLIN, 0}, {0, POLLIN, 0}};
    if (ppoll(fds, 3, tp, NULL) < 0 && errno != EINTR) {
      perror("ppoll");
      return 1;
    }
    for (int i = 0; i < 2; i++)
      if (fds[i].revents & POLLIN) read_batch(&dirs[i]);
    if (fds[2].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(0, buf + have, sizeof buf - 1 - have);
      if (n == 0) return 0; /* the parent is gone */
      if (n > 0) {
        have += (size_t)n;
        char *nl;
        while ((nl = memchr(buf, '\n', have))) {
          *nl = 0;
          command(buf, dirs);
          size_t used = (size_t)(nl - buf) + 1;
          memmove(buf, nl + 1, have - used);
          have -= used;
        }
        if (have == sizeof buf - 1) have = 0; /* an overlong line: discard */
      }
    }
  }
}
