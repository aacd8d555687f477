// without_io_uring: runs the server (../server/server next to this binary's runfiles directory)
// with io_uring_setup(2) refused by a seccomp filter, as a container runtime's default profile
// refuses it. For the test that --io=io_uring falls back to epoll.
//
//   without_io_uring --io=io_uring --port=0 ...   (the server's flags, passed through)
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

int main(int argc, char** argv) {
  sock_filter filter[] = {
      // Another architecture's system call numbers mean something else: refuse them all.
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program = {static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    perror("without_io_uring: seccomp");
    return 1;
  }
  std::string self = argv[0];
  const std::string server = self.substr(0, self.rfind('/') + 1) + "../server/server";
  argv[0] = const_cast<char*>(server.c_str());
  execv(server.c_str(), argv);
  perror("without_io_uring: exec");
  return 127;
}
