/*
 * latproxy.c - the benchmarks' latency proxy: one listening TCP port forwarded to one target,
 * with a fixed delay added each way *per chunk*. Bytes read from one side at time t are written
 * to the other side at t + delay, so a keep-alive connection keeps its shape (each request pays
 * one round trip, 2 x delay, not one per connection) and a streamed body stays streamed. It
 * stands in for `tc netem` on kernels without netem (bench/peers/endpoints.py prefers netem).
 *
 *   latproxy [-l HOST] [-b KIB] LISTEN_PORT TARGET_HOST:PORT DELAY_MS
 *
 *   -l HOST   listen address (default 127.0.0.1)
 *   -b KIB    bytes held per direction of a connection before reading from it stops (default
 *             1024 KiB): backpressure, so a fast sender never grows the proxy's memory beyond
 *             connections x 2 x KIB
 *
 * Prints "latproxy: listening on HOST:PORT" on stdout once it accepts (LISTEN_PORT 0: the kernel
 * picks the port, and that line says which). On SIGTERM/SIGINT it
 * closes every connection and exits 0; on SIGUSR1 it only reports. The report (stderr, one line)
 * gives its CPU seconds (user, system), connections and bytes each way, so a benchmark can show
 * that the proxy was not its ceiling.
 *
 * One thread, epoll, non-blocking sockets. Not emulated: the TCP handshake's round trip (the
 * client's connect() completes at once; its first bytes then pay the delay like any other), and
 * bandwidth or loss. Not part of the product; the benchmarks start and stop it.
 *
 * Timing: every chunk is stamped due = read time + delay on one monotonic clock; the delay being
 * fixed, chunks become due in the order they were read, so one FIFO over all connections (the
 * "timeline") holds them sorted and the next timer is its head. A chunk is on its direction's
 * queue from the read until it is written, and on the timeline from the read until it is due.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define READ_MAX (64 * 1024)
#define MAX_EVENTS 512

typedef struct chunk chunk;
typedef struct dir dir;
typedef struct conn conn;

/* Bytes read at one time, or (len 0, eof 1) the reader's end of stream. Owned by its direction's
   queue; `dead` means its connection is gone and the timeline frees it when popped. */
struct chunk {
    chunk *next;  /* the direction's queue */
    chunk *tnext; /* the timeline */
    dir *d;
    int64_t due_us;
    size_t len, off;
    int on_timeline, eof, dead;
    char data[];
};

/* One direction of a connection: bytes read from side `from` go to side `to`. */
struct dir {
    chunk *head, *tail;
    size_t held;  /* bytes queued, written or not yet due */
    int eof_read; /* `from` said end of stream (read 0): no more reads */
    int eof_sent; /* shutdown(to, SHUT_WR) done */
    int from, to; /* 0 = client, 1 = target */
    conn *c;
};

typedef struct side {
    conn *c;
    int fd;
    int idx;
    int reg;       /* in the epoll set */
    int hup;       /* epoll said EPOLLHUP: reported at every wait while registered */
    uint32_t mask; /* the epoll interest registered now */
} side;

/* d[0]: client -> target; d[1]: target -> client. Freed at the end of the loop iteration that
   closed it (events later in the same epoll batch may still name it). */
struct conn {
    side s[2];
    dir d[2];
    int connecting; /* the target connect() is in progress */
    int closed;
    conn *prev, *next; /* the live connections, while open */
    conn *next_free;
};

typedef struct proxy {
    int ep, lfd;
    int64_t delay_us;
    size_t cap;
    struct addrinfo *target;
    chunk *t_head, *t_tail;
    conn *live, *to_free;
    unsigned long long accepted, open_conns, bytes[2], chunks_alloc;
} proxy;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void report(const proxy *p, const char *why)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr,
            "latproxy: %s: cpu %.3f s (user %.3f, sys %.3f), %llu connections (%llu open), "
            "%llu bytes to target, %llu bytes back\n",
            why,
            (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                ru.ru_stime.tv_usec / 1e6,
            (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, p->accepted, p->open_conns,
            p->bytes[0], p->bytes[1]);
    fflush(stderr);
}

/* The interest a side needs now: read while its outgoing direction has room and no EOF yet; write
   while its incoming direction has a due chunk left over from a short write (or, connecting, to
   learn the connect's outcome). Registered only when it changes. */
static void update_mask(proxy *p, conn *c, int i)
{
    side *s = &c->s[i];
    dir *out = &c->d[i];    /* bytes read from side i */
    dir *in = &c->d[1 - i]; /* bytes written to side i */
    uint32_t m = 0;
    struct epoll_event ev;

    if (c->closed)
        return;
    if (i == 1 && c->connecting) {
        m = EPOLLOUT;
    } else {
        if (!out->eof_read && out->held < p->cap)
            m |= EPOLLIN;
        if (in->head && !in->head->on_timeline)
            m |= EPOLLOUT;
    }
    /* A hung-up socket is reported at every wait whatever the interest: while there is nothing
       to read from it (no room, or its EOF read) it leaves the set, or the loop would spin. */
    if (s->hup && !(m & EPOLLIN)) {
        if (s->reg && epoll_ctl(p->ep, EPOLL_CTL_DEL, s->fd, NULL) == 0)
            s->reg = 0;
        return;
    }
    if (s->reg && m == s->mask)
        return;
    memset(&ev, 0, sizeof(ev));
    ev.events = m;
    ev.data.ptr = s;
    if (epoll_ctl(p->ep, s->reg ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &ev) == 0) {
        s->mask = m;
        s->reg = 1;
    }
}

/* Closes both sockets; the chunks still on the timeline are marked dead (the timeline frees them
   when they come due), the others are freed now. */
static void conn_close(proxy *p, conn *c)
{
    if (c->closed)
        return;
    c->closed = 1;
    for (int k = 0; k < 2; k++) {
        chunk *ch = c->d[k].head, *nx;
        for (; ch; ch = nx) {
            nx = ch->next;
            if (ch->on_timeline) {
                ch->dead = 1;
                ch->d = NULL;
            } else {
                free(ch);
                p->chunks_alloc--;
            }
        }
        c->d[k].head = c->d[k].tail = NULL;
        if (c->s[k].fd >= 0)
            close(c->s[k].fd); /* close() also removes it from the epoll set */
        c->s[k].fd = -1;
    }
    p->open_conns--;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->live = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next_free = p->to_free;
    p->to_free = c;
}

/* Writes the due chunks at the head of d; a short write leaves the rest for EPOLLOUT. An EOF
   chunk becomes shutdown(SHUT_WR). Returns -1 when the connection is to be closed. */
static int flush(proxy *p, conn *c, dir *d)
{
    int fd = c->s[d->to].fd;

    if (d->to == 1 && c->connecting)
        return 0;
    while (d->head && !d->head->on_timeline) {
        chunk *ch = d->head;
        if (ch->eof) {
            shutdown(fd, SHUT_WR);
            d->eof_sent = 1;
        } else {
            while (ch->off < ch->len) {
                ssize_t n = send(fd, ch->data + ch->off, ch->len - ch->off, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    return 0;
                if (n < 0)
                    return -1;
                ch->off += (size_t)n;
                p->bytes[d->from] += (unsigned long long)n;
            }
        }
        d->head = ch->next;
        if (!d->head)
            d->tail = NULL;
        d->held -= ch->len;
        free(ch);
        p->chunks_alloc--;
    }
    /* Both ends said EOF and it was passed on: nothing more can flow. */
    if (c->d[0].eof_sent && c->d[1].eof_sent)
        return -1;
    return 0;
}

static void enqueue(proxy *p, dir *d, chunk *ch)
{
    ch->d = d;
    ch->due_us = now_us() + p->delay_us;
    ch->on_timeline = 1;
    if (d->tail)
        d->tail->next = ch;
    else
        d->head = ch;
    d->tail = ch;
    d->held += ch->len;
    if (p->t_tail)
        p->t_tail->tnext = ch;
    else
        p->t_head = ch;
    p->t_tail = ch;
    p->chunks_alloc++;
}

/* Reads what side i has (at most the room its direction has left) into one chunk. Returns -1
   when the connection is to be closed. */
static int read_side(proxy *p, conn *c, int i)
{
    static char buf[READ_MAX];
    dir *d = &c->d[i];
    size_t room = p->cap > d->held ? p->cap - d->held : 0;
    ssize_t n;
    chunk *ch;

    if (room == 0 || d->eof_read)
        return 0;
    do
        n = recv(c->s[i].fd, buf, room < READ_MAX ? room : READ_MAX, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    ch = calloc(1, sizeof(*ch) + (size_t)n);
    if (!ch)
        return -1;
    if (n == 0) {
        ch->eof = 1;
        d->eof_read = 1;
    } else {
        memcpy(ch->data, buf, (size_t)n);
        ch->len = (size_t)n;
    }
    enqueue(p, d, ch);
    return 0;
}

static int add_fd(proxy *p, side *s, uint32_t m)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = m;
    ev.data.ptr = s;
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, s->fd, &ev) < 0)
        return -1;
    s->mask = m;
    s->reg = 1;
    return 0;
}

static void accept_all(proxy *p)
{
    for (;;) {
        int cfd = accept(p->lfd, NULL, NULL), tfd, one = 1;
        conn *c;

        if (cfd < 0)
            return; /* EAGAIN, or EMFILE: the rest wait in the backlog */
        tfd = socket(p->target->ai_family, SOCK_STREAM, 0);
        c = calloc(1, sizeof(*c));
        if (tfd < 0 || !c || set_nonblock(cfd) < 0 || set_nonblock(tfd) < 0) {
            close(cfd);
            if (tfd >= 0)
                close(tfd);
            free(c);
            continue;
        }
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        for (int k = 0; k < 2; k++) {
            c->s[k].c = c;
            c->s[k].idx = k;
            c->d[k].from = k;
            c->d[k].to = 1 - k;
            c->d[k].c = c;
        }
        c->s[0].fd = cfd;
        c->s[1].fd = tfd;
        p->accepted++;
        p->open_conns++;
        c->next = p->live;
        if (p->live)
            p->live->prev = c;
        p->live = c;
        if (connect(tfd, p->target->ai_addr, p->target->ai_addrlen) < 0) {
            if (errno != EINPROGRESS) {
                conn_close(p, c);
                continue;
            }
            c->connecting = 1;
        }
        if (add_fd(p, &c->s[0], EPOLLIN) < 0 ||
            add_fd(p, &c->s[1], c->connecting ? EPOLLOUT : EPOLLIN) < 0)
            conn_close(p, c);
    }
}

/* Moves the due chunks off the timeline and writes them (a chunk due but behind a short write
   waits for its side's EPOLLOUT). */
static void run_timeline(proxy *p)
{
    int64_t now = now_us();

    while (p->t_head && p->t_head->due_us <= now) {
        chunk *ch = p->t_head;
        conn *c;
        p->t_head = ch->tnext;
        if (!p->t_head)
            p->t_tail = NULL;
        ch->on_timeline = 0;
        if (ch->dead) {
            free(ch);
            p->chunks_alloc--;
            continue;
        }
        c = ch->d->c;
        if (flush(p, c, ch->d) < 0) {
            conn_close(p, c);
            continue;
        }
        update_mask(p, c, 0);
        update_mask(p, c, 1);
    }
}

/* One readiness event on a side. */
static void on_event(proxy *p, side *s, uint32_t ev)
{
    conn *c = s->c;
    int i = s->idx;

    if (c->closed)
        return;
    if (ev & EPOLLERR) {
        conn_close(p, c); /* reset, or the connect failed */
        return;
    }
    if (ev & EPOLLHUP)
        s->hup = 1;
    if (i == 1 && c->connecting) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
            conn_close(p, c); /* the client sees its connection closed */
            return;
        }
        c->connecting = 0;
        if (flush(p, c, &c->d[0]) < 0) {
            conn_close(p, c);
            return;
        }
    } else {
        if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && read_side(p, c, i) < 0) {
            conn_close(p, c);
            return;
        }
        if ((ev & EPOLLOUT) && flush(p, c, &c->d[1 - i]) < 0) {
            conn_close(p, c);
            return;
        }
    }
    update_mask(p, c, 0);
    update_mask(p, c, 1);
}

static int listen_on(proxy *p, const char *host, const char *port)
{
    struct addrinfo hints, *ai = NULL;
    int one = 1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
        fprintf(stderr, "latproxy: listen address %s:%s: %s\n", host, port, gai_strerror(rc));
        return -1;
    }
    p->lfd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (p->lfd < 0 || setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(p->lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(p->lfd, 4096) < 0 ||
        set_nonblock(p->lfd) < 0) {
        fprintf(stderr, "latproxy: listen on %s:%s: %s\n", host, port, strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    return 0;
}

/* Thousands of connections need two descriptors each: raise the soft limit to the hard one. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static volatile sig_atomic_t got_stop, got_report;
static void on_signal(int s)
{
    if (s == SIGUSR1)
        got_report = 1;
    else
        got_stop = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: latproxy [-l HOST] [-b KIB] LISTEN_PORT TARGET_HOST:PORT DELAY_MS\n");
    return 2;
}

int main(int argc, char **argv)
{
    proxy p;
    const char *host = "127.0.0.1";
    char thost[256], *colon;
    struct addrinfo hints;
    struct epoll_event evs[MAX_EVENTS], lev;
    struct sigaction sa;
    sigset_t block, none;
    double delay_ms;
    char *end;
    int opt, rc;

    memset(&p, 0, sizeof(p));
    p.lfd = p.ep = -1;
    p.cap = 1024 * 1024;
    while ((opt = getopt(argc, argv, "l:b:")) != -1) {
        if (opt == 'l') {
            host = optarg;
        } else if (opt == 'b') {
            long kib = strtol(optarg, &end, 10);
            if (*end || kib < 1 || kib > 1024 * 1024)
                return usage();
            p.cap = (size_t)kib * 1024;
        } else {
            return usage();
        }
    }
    if (argc - optind != 3)
        return usage();
    delay_ms = strtod(argv[optind + 2], &end);
    if (*end || delay_ms < 0 || delay_ms > 600000)
        return usage();
    p.delay_us = (int64_t)(delay_ms * 1000.0);
    colon = strrchr(argv[optind + 1], ':');
    if (!colon || (size_t)(colon - argv[optind + 1]) >= sizeof(thost))
        return usage();
    memcpy(thost, argv[optind + 1], (size_t)(colon - argv[optind + 1]));
    thost[colon - argv[optind + 1]] = 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(thost, colon + 1, &hints, &p.target)) != 0) {
        fprintf(stderr, "latproxy: target %s: %s\n", argv[optind + 1], gai_strerror(rc));
        return 1;
    }
    raise_nofile();
    if (listen_on(&p, host, argv[optind]) < 0) {
        freeaddrinfo(p.target);
        return 1;
    }
    p.ep = epoll_create1(0);
    memset(&lev, 0, sizeof(lev));
    lev.events = EPOLLIN;
    lev.data.ptr = NULL; /* the listening socket */
    if (p.ep < 0 || epoll_ctl(p.ep, EPOLL_CTL_ADD, p.lfd, &lev) < 0) {
        fprintf(stderr, "latproxy: epoll: %s\n", strerror(errno));
        return 1;
    }
    /* The signals are blocked except inside epoll_pwait, so one that arrives between two waits
       is not lost until the next event. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, NULL);
    sigemptyset(&none);
    {
        /* The port actually bound: LISTEN_PORT 0 lets the kernel pick (the tests do). */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char pbuf[16] = "?";
        if (getsockname(p.lfd, (struct sockaddr *)&ss, &sl) == 0)
            getnameinfo((struct sockaddr *)&ss, sl, NULL, 0, pbuf, sizeof(pbuf), NI_NUMERICSERV);
        printf("latproxy: listening on %s:%s, target %s, delay %g ms each way\n", host, pbuf,
               argv[optind + 1], delay_ms);
    }
    fflush(stdout);

    while (!got_stop) {
        int timeout = -1, n;
        if (p.t_head) {
            int64_t wait = p.t_head->due_us - now_us();
            /* Round up: waking before a chunk is due would only spin. */
            timeout = wait <= 0 ? 0 : (int)((wait + 999) / 1000);
        }
        n = epoll_pwait(p.ep, evs, MAX_EVENTS, timeout, &none);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "latproxy: epoll_wait: %s\n", strerror(errno));
            break;
        }
        for (int k = 0; k < n; k++) {
            if (!evs[k].data.ptr)
                accept_all(&p);
            else
                on_event(&p, evs[k].data.ptr, evs[k].events);
        }
        run_timeline(&p);
        while (p.to_free) {
            conn *c = p.to_free;
            p.to_free = c->next_free;
            free(c);
        }
        if (got_report) {
            got_report = 0;
            report(&p, "report");
        }
    }
    /* Shutdown: every connection, then the timeline (only dead chunks on it now). */
    while (p.live)
        conn_close(&p, p.live);
    while (p.t_head) {
        chunk *ch = p.t_head;
        p.t_head = ch->tnext;
        free(ch);
    }
    while (p.to_free) {
        conn *c = p.to_free;
        p.to_free = c->next_free;
        free(c);
    }
    report(&p, "exit");
    close(p.lfd);
    close(p.ep);
    freeaddrinfo(p.target);
    return 0;
}
