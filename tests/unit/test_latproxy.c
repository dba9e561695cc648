/* test_latproxy.c - bench/latproxy (the benchmarks' latency proxy) run as a process in front of
 * an echo server of this test's own: bytes arrive exactly, in both directions, through many
 * connections at once and through a buffer smaller than the transfer (backpressure); a round
 * trip takes at least twice the delay (a lower bound only: the machine is shared, so no upper
 * bound is asserted); half-close passes through; SIGTERM ends it with status 0 (under ASan, a leak
 * would make it non-zero) and its CPU report. The proxy is the one built next to this test
 * (BUILD/bench/latproxy). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "sl_test.h"

#define DELAY_MS 40
#define NCONN 64

static int echo_fd = -1;
static int echo_port;
static pthread_t echo_thread;
static int echo_started;
static pid_t proxy_pid = -1;
static int proxy_port;
static FILE *proxy_err; /* the proxy's stderr */

/* One echo connection: everything read is written back; at EOF, the write side is shut too. */
static void *echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[8192];
    ssize_t n;

    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (w <= 0)
                goto out;
            off += w;
        }
    }
    shutdown(fd, SHUT_WR);
out:
    close(fd);
    return NULL;
}

static void *echo_accept(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(echo_fd, NULL, NULL);
        pthread_t t;
        if (fd < 0)
            return NULL; /* the listening socket was shut at teardown */
        if (pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd) != 0)
            close(fd);
        else
            pthread_detach(t);
    }
}

static int listen_any(int *port)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 256) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
        return -1;
    *port = ntohs(sa.sin_port);
    return fd;
}

static int dial(int port)
{
    struct sockaddr_in sa;
    struct timeval tv = {30, 0}; /* a guard against a hang, not a timing assertion */
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int read_full(int fd, unsigned char *p, size_t n)
{
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char)(seed >> 16);
    }
}

static int setup(void)
{
    char self[4096], bin[4200], port[16], target[64], line[256];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    int out[2], err[2];
    FILE *f;

    if (n <= 0)
        return 1;
    self[n] = 0;
    *strrchr(self, '/') = 0; /* BUILD/tests/unit */
    snprintf(bin, sizeof(bin), "%s/../../bench/latproxy", self);
    echo_fd = listen_any(&echo_port);
    if (echo_fd < 0 || pthread_create(&echo_thread, NULL, echo_accept, NULL) != 0) {
        fprintf(stderr, "echo server: %s\n", strerror(errno));
        return 1;
    }
    echo_started = 1;
    snprintf(port, sizeof(port), "%d", DELAY_MS);
    snprintf(target, sizeof(target), "127.0.0.1:%d", echo_port);
    if (pipe(out) < 0 || pipe(err) < 0)
        return 1;
    proxy_pid = fork();
    if (proxy_pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(err[0]);
        /* -b 16: a 16 KiB buffer per direction, far below the 1 MiB transfer below. */
        execl(bin, bin, "-b", "16", "0", target, port, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    f = fdopen(out[0], "r");
    proxy_err = fdopen(err[0], "r");
    if (!f || !fgets(line, sizeof(line), f) ||
        sscanf(line, "latproxy: listening on 127.0.0.1:%d", &proxy_port) != 1) {
        fprintf(stderr, "%s did not say it listens\n", bin);
        return 1;
    }
    fclose(f);
    return 0;
}

/* 1 MiB one way while it echoes back, written and read by two threads (a single thread would
   deadlock once both directions' buffers fill): every byte comes back in order. */
typedef struct big {
    int fd;
    const unsigned char *p;
    size_t n;
} big;

static void *big_writer(void *arg)
{
    big *b = arg;
    for (size_t off = 0; off < b->n;) {
        ssize_t w = send(b->fd, b->p + off, b->n - off > 7001 ? 7001 : b->n - off, MSG_NOSIGNAL);
        if (w <= 0)
            return NULL;
        off += (size_t)w;
    }
    shutdown(b->fd, SHUT_WR);
    return NULL;
}

static void test_latproxy_big_transfer_exact_through_small_buffer(void)
{
    enum { N = 1 << 20 };
    unsigned char *src = malloc(N), *got = malloc(N + 1);
    big b;
    pthread_t t;
    int fd = dial(proxy_port);

    CHECK(src && got && fd >= 0);
    fill(src, N, 7);
    b.fd = fd;
    b.p = src;
    b.n = N;
    CHECK(pthread_create(&t, NULL, big_writer, &b) == 0);
    CHECK(read_full(fd, got, N) == 0);
    /* Half-close went through: the echo server saw EOF and shut its side, so EOF comes back. */
    CHECK(recv(fd, got + N, 1, 0) == 0);
    pthread_join(t, NULL);
    CHECK(memcmp(src, got, N) == 0);
    close(fd);
    free(src);
    free(got);
}

static void test_latproxy_round_trip_at_least_twice_the_delay(void)
{
    int fd = dial(proxy_port);
    unsigned char c = 'x', r = 0;

    CHECK(fd >= 0);
    for (int i = 0; i < 3; i++) { /* a keep-alive connection: each exchange pays the delay */
        double t0 = now_ms(), dt;
        CHECK(send(fd, &c, 1, 0) == 1);
        CHECK(read_full(fd, &r, 1) == 0);
        dt = now_ms() - t0;
        CHECK(r == c);
        CHECK(dt >= 2 * DELAY_MS - 1); /* -1: the clocks' ms rounding */
    }
    close(fd);
}

static void test_latproxy_many_connections_each_exact(void)
{
    int fds[NCONN];
    unsigned char msg[NCONN][300], got[300];

    for (int i = 0; i < NCONN; i++) {
        fds[i] = dial(proxy_port);
        CHECK(fds[i] >= 0);
        fill(msg[i], sizeof(msg[i]), (unsigned)i + 100);
        CHECK(send(fds[i], msg[i], sizeof(msg[i]), 0) == (ssize_t)sizeof(msg[i]));
    }
    for (int i = 0; i < NCONN; i++) {
        CHECK(read_full(fds[i], got, sizeof(got)) == 0);
        CHECK(memcmp(got, msg[i], sizeof(got)) == 0);
        close(fds[i]);
    }
}

/* Runs last: the proxy's own shutdown, with a connection still open. */
static void test_latproxy_sigterm_exits_zero_with_cpu_report(void)
{
    char line[512] = "";
    int st = -1, fd = dial(proxy_port), saw = 0;

    CHECK(fd >= 0);
    CHECK(kill(proxy_pid, SIGTERM) == 0);
    CHECK(waitpid(proxy_pid, &st, 0) == proxy_pid);
    proxy_pid = -1;
    while (fgets(line, sizeof(line), proxy_err))
        if (strncmp(line, "latproxy: exit: cpu ", 20) == 0)
            saw = 1;
        else
            fputs(line, stderr); /* a sanitizer's report, if any */
    close(fd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(saw);
}

static void teardown(void)
{
    if (proxy_pid > 0) {
        kill(proxy_pid, SIGKILL);
        waitpid(proxy_pid, NULL, 0);
    }
    if (proxy_err)
        fclose(proxy_err);
    if (echo_fd >= 0)
        shutdown(echo_fd, SHUT_RDWR); /* accept() then fails and the thread returns */
    if (echo_started)
        pthread_join(echo_thread, NULL);
    if (echo_fd >= 0)
        close(echo_fd);
}

static const sl_test tests[] = {
    SL_TEST(test_latproxy_big_transfer_exact_through_small_buffer),
    SL_TEST(test_latproxy_round_trip_at_least_twice_the_delay),
    SL_TEST(test_latproxy_many_connections_each_exact),
    SL_TEST(test_latproxy_sigterm_exits_zero_with_cpu_report),
};
SL_TEST_MAIN_REQUIRE(tests, setup, teardown, NULL)
