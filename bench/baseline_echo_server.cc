// The reference point for benchmarks: the smallest correct epoll echo server for our framing.
//
// One thread per --threads, each with its own SO_REUSEPORT listener and epoll loop; no limits,
// no timeouts, no stats, no handler indirection. Because an echo reply is byte-for-byte its
// request, complete frames are written straight back from the input buffer. Correct under any
// split of the byte stream. Not for production: it trusts clients completely.
//
//   bazel-bin/bench/baseline_echo_server --port=9000 --threads=1
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Conn {
  int fd;
  std::string in;   // unparsed input
  std::string out;  // unsent output
};

uint32_t BigEndian32(const char* p) {
  unsigned char b[4];
  std::memcpy(b, p, 4);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

// Length of the prefix of `data` made of complete frames.
size_t CompleteFrames(const char* data, size_t size) {
  size_t at = 0;
  while (size - at >= 4) {
    const size_t frame = 4 + size_t{BigEndian32(data + at)};
    if (size - at < frame) break;
    at += frame;
  }
  return at;
}

void Close(int epfd, Conn* c) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, nullptr);
  close(c->fd);
  delete c;
}

void Send(int epfd, Conn* c, const char* data, size_t size) {
  if (c->out.empty()) {
    const ssize_t n = send(c->fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) return;
    const size_t sent = n > 0 ? n : 0;
    if (sent == size) return;
    c->out.assign(data + sent, size - sent);
    epoll_event ev{EPOLLIN | EPOLLOUT, {.ptr = c}};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
  } else {
    c->out.append(data, size);
  }
}

void Serve(int port) {
  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(lfd, 4096) != 0) {
    std::perror("bind/listen");
    std::exit(1);
  }
  const int epfd = epoll_create1(0);
  epoll_event lev{EPOLLIN, {.ptr = nullptr}};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);
  std::vector<char> buf(256 << 10);
  epoll_event events[256];
  while (true) {
    const int n = epoll_wait(epfd, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      Conn* c = static_cast<Conn*>(events[i].data.ptr);
      if (c == nullptr) {
        int fd;
        while ((fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          epoll_event ev{EPOLLIN, {.ptr = new Conn{fd, {}, {}}}};
          epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      if (events[i].events & EPOLLOUT) {
        const ssize_t w = send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL);
        if (w > 0) c->out.erase(0, w);
        if (c->out.empty()) {
          epoll_event ev{EPOLLIN, {.ptr = c}};
          epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        }
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        const ssize_t r = read(c->fd, buf.data(), buf.size());
        if (r == 0 || (r < 0 && errno != EAGAIN)) {
          Close(epfd, c);
          continue;
        }
        if (r < 0) continue;
        if (c->in.empty()) {  // common case: echo complete frames straight from the read buffer
          const size_t done = CompleteFrames(buf.data(), r);
          if (done > 0) Send(epfd, c, buf.data(), done);
          c->in.assign(buf.data() + done, r - done);
        } else {
          c->in.append(buf.data(), r);
          const size_t done = CompleteFrames(c->in.data(), c->in.size());
          if (done > 0) Send(epfd, c, c->in.data(), done);
          c->in.erase(0, done);
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int port = 9000, threads = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--port=", 7) == 0) port = std::atoi(argv[i] + 7);
    else if (std::strncmp(argv[i], "--threads=", 10) == 0) threads = std::atoi(argv[i] + 10);
    else {
      std::fprintf(stderr, "usage: %s [--port=9000] [--threads=1]\n", argv[0]);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(Serve, port);
  std::fprintf(stderr, "baseline echo server on 127.0.0.1:%d, %d threads\n", port, threads);
  for (std::thread& t : pool) t.join();
}
