/*
 * callbench: the one load client of `deno task bench` shared by every server
 * (sockd's text and JSON-lines dialects, HAProxy's runtime API, Redis, the
 * raw echo), so that a ratio compares servers, not clients.
 *
 *   callbench --socket PATH --request BYTES --end MARKER --expect TEXT
 *             [--preface BYTES] [--conns N] [--depth D]
 *             [--warmup-ms W] [--duration-ms T] [--timeout-ms X]
 *
 * Each of N connections keeps D requests outstanding (D = 1: strict
 * request/response; D > 1: pipelined, refilled with one write per read).
 * An answer ends at each occurrence of MARKER in the stream ("\n" for sockd
 * lines, "\r\n" for RESP, "\n> " for HAProxy's prompt mode); each answer
 * must contain TEXT, or the run fails. "{id}" in the request is replaced by
 * a counter per connection (JSON lines need distinct ids). PREFACE is sent
 * first on each connection and its one answer is read and not counted
 * (HAProxy: "prompt\n"). Answers completed during the warm-up are not
 * counted, nor those in flight when the window closes.
 *
 * Prints one JSON line: {"calls":..,"seconds":..,"calls_per_s":..,
 * "client_cpu_s":..} or {"error":".."} with exit status 1. Every wait has a
 * deadline: no answer for X ms (default 5000) fails the run.
 *
 * Built by tests/bench/_c_client.ts with `gcc -O2`; Linux only (epoll).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF (64 * 1024)
#define MAX_CONNS 1024
#define MAX_DEPTH 4096

struct conn {
  int fd;
  char *buf;     /* unconsumed bytes: the part of an answer read so far */
  size_t len;
  uint64_t next_id;
  int preface;   /* the preface's answer is still to come */
};

static const char *req_head, *req_tail; /* request split around "{id}" */
static size_t head_len, tail_len;
static int has_id;
static const char *marker, *expect;
static size_t marker_len, expect_len;
static char *out_buf;

static void fail(const char *what, const char *detail) {
  printf("{\"error\":\"%s%s%s\"}\n", what, detail ? ": " : "", detail ? detail : "");
  fflush(stdout);
  exit(1);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("write failed", strerror(errno));
    }
    p += w;
    n -= (size_t)w;
  }
}

/* Writes `count` requests on `c` in one write. */
static void send_requests(struct conn *c, int count) {
  size_t n = 0;
  for (int i = 0; i < count; i++) {
    memcpy(out_buf + n, req_head, head_len);
    n += head_len;
    if (has_id) {
      n += (size_t)sprintf(out_buf + n, "%llu", (unsigned long long)++c->next_id);
      memcpy(out_buf + n, req_tail, tail_len);
      n += tail_len;
    }
  }
  write_all(c->fd, out_buf, n);
}

/* Reads what is there; returns the answers it completed (the preface's excluded). */
static int on_readable(struct conn *c) {
  ssize_t r = read(c->fd, c->buf + c->len, READ_BUF - c->len);
  if (r == 0) fail("the server closed the connection", NULL);
  if (r < 0) {
    if (errno == EINTR || errno == EAGAIN) return 0;
    fail("read failed", strerror(errno));
  }
  c->len += (size_t)r;
  int done = 0;
  size_t pos = 0;
  char *end;
  while ((end = memmem(c->buf + pos, c->len - pos, marker, marker_len)) != NULL) {
    size_t seg = (size_t)(end - (c->buf + pos));
    if (c->preface) {
      c->preface = 0;
    } else {
      if (expect_len > 0 && memmem(c->buf + pos, seg, expect, expect_len) == NULL) {
        char shown[201];
        size_t k = seg < 200 ? seg : 200;
        for (size_t i = 0; i < k; i++) {
          char ch = c->buf[pos + i];
          shown[i] = (ch == '"' || ch == '\\' || (unsigned char)ch < 0x20) ? '?' : ch;
        }
        shown[k] = 0;
        fail("an answer lacks the expected text", shown);
      }
      done++;
    }
    pos += seg + marker_len;
  }
  if (pos > 0) {
    memmove(c->buf, c->buf + pos, c->len - pos);
    c->len -= pos;
  }
  if (c->len == READ_BUF) fail("an answer is longer than 64 KiB", NULL);
  return done;
}

int main(int argc, char **argv) {
  const char *path = NULL, *request = NULL, *preface = NULL;
  long conns = 1, depth = 1, warmup = 300, duration = 1500, timeout = 5000;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) fail("missing value after", a);
    const char *v = argv[++i];
    if (!strcmp(a, "--socket")) path = v;
    else if (!strcmp(a, "--request")) request = v;
    else if (!strcmp(a, "--end")) marker = v;
    else if (!strcmp(a, "--expect")) expect = v;
    else if (!strcmp(a, "--preface")) preface = v;
    else if (!strcmp(a, "--conns")) conns = strtol(v, NULL, 10);
    else if (!strcmp(a, "--depth")) depth = strtol(v, NULL, 10);
    else if (!strcmp(a, "--warmup-ms")) warmup = strtol(v, NULL, 10);
    else if (!strcmp(a, "--duration-ms")) duration = strtol(v, NULL, 10);
    else if (!strcmp(a, "--timeout-ms")) timeout = strtol(v, NULL, 10);
    else fail("unknown argument", a);
  }
  if (!path || !request || !marker || !*marker) fail("--socket, --request and --end are required", NULL);
  if (conns < 1 || conns > MAX_CONNS || depth < 1 || depth > MAX_DEPTH) fail("--conns or --depth out of range", NULL);
  if (duration < 1 || warmup < 0 || timeout < 1) fail("--warmup-ms, --duration-ms or --timeout-ms out of range", NULL);
  if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) fail("socket path too long", path);
  marker_len = strlen(marker);
  expect = expect ? expect : "";
  expect_len = strlen(expect);
  const char *slot = strstr(request, "{id}");
  has_id = slot != NULL;
  req_head = request;
  head_len = has_id ? (size_t)(slot - request) : strlen(request);
  req_tail = has_id ? slot + 4 : "";
  tail_len = strlen(req_tail);
  out_buf = malloc((size_t)depth * (head_len + tail_len + 24));

  int ep = epoll_create1(0);
  if (ep < 0) fail("epoll_create1 failed", strerror(errno));
  struct conn *cs = calloc((size_t)conns, sizeof *cs);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strcpy(addr.sun_path, path);
  for (long i = 0; i < conns; i++) {
    struct conn *c = &cs[i];
    c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (c->fd < 0) fail("socket failed", strerror(errno));
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) fail("connect failed", strerror(errno));
    c->buf = malloc(READ_BUF);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) fail("epoll_ctl failed", strerror(errno));
    if (preface) {
      c->preface = 1;
      write_all(c->fd, preface, strlen(preface));
    }
    send_requests(c, (int)depth);
  }

  struct epoll_event events[64];
  double start = now_ms(), t0 = start + (double)warmup, t1 = t0 + (double)duration;
  double last_answer = start, cpu0 = 0;
  uint64_t counted = 0;
  int counting = 0;
  for (;;) {
    double t = now_ms();
    if (!counting && t >= t0) {
      counting = 1;
      t0 = t;
      t1 = t0 + (double)duration;
      counted = 0;
      cpu0 = cpu_s();
    }
    if (counting && t >= t1) {
      t1 = t;
      break;
    }
    if (t - last_answer > (double)timeout) fail("no answer within --timeout-ms", NULL);
    double until = counting ? t1 : t0;
    int wait = (int)(until - t) + 1;
    int n = epoll_wait(ep, events, 64, wait);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("epoll_wait failed", strerror(errno));
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      int done = on_readable(c);
      if (done > 0) {
        last_answer = now_ms();
        if (counting) counted += (uint64_t)done;
        send_requests(c, done);
      }
    }
  }
  double seconds = (t1 - t0) / 1e3;
  printf("{\"calls\":%llu,\"seconds\":%.6f,\"calls_per_s\":%.1f,\"client_cpu_s\":%.6f,\"conns\":%ld,\"depth\":%ld}\n",
         (unsigned long long)counted, seconds, (double)counted / seconds, cpu_s() - cpu0, conns, depth);
  return 0;
}
