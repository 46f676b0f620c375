// Saving a file so that it is never lost: write_file_atomic (declared in fastmlp/serialize.hpp,
// where its promises are): a temporary file next to the target, written, fsync-ed, then renamed
// over it. Readers see the old file or the whole new one; any failure leaves the old file intact.
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "errors.hpp"
#include "fastmlp/serialize.hpp"

#if defined(_WIN32)
#include <fstream>
#else
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace fastmlp {

using io::sys_error;

namespace {

#if !defined(_WIN32)
std::string parent_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// `path`, or where the chain of symlinks at `path` ends (a file that may not exist yet).
std::string follow_symlinks(std::string path) {
  for (int hops = 0; hops < 40; ++hops) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return path;
    std::vector<char> buf(PATH_MAX + 1);
    const ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size() - 1);
    if (n < 0) sys_error("cannot read the symlink", path);
    const std::string target(buf.data(), std::size_t(n));
    path = target[0] == '/' ? target : parent_of(path) + "/" + target;
  }
  errno = ELOOP;
  sys_error("cannot save to", path);
}

// Temporary files are named .<name>.tmp-<pid>-XXXXXX: a save killed before its rename leaves
// one, removed here once its process is gone (kill(pid, 0) fails with ESRCH). Files of live
// processes, and anything that is not a regular file, are left alone.
void remove_stale_temporaries(const std::string& dir, const std::string& prefix) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string_view rest = name.substr(prefix.size());  // <pid>-XXXXXX
    const std::size_t dash = rest.find('-');
    long pid = 0;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + (dash == std::string_view::npos ? 0 : dash), pid);
    if (dash == std::string_view::npos || rest.size() - dash != 7 || ec != std::errc() || end != rest.data() + dash ||
        pid <= 0 || pid == long(::getpid()))
      continue;
    if (::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;  // alive (EPERM: someone else's, alive)
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
      ::unlinkat(::dirfd(d), e->d_name, 0);
  }
  ::closedir(d);
}
#endif

}  // namespace

#if defined(_WIN32)
void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) sys_error("cannot create", tmp);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      sys_error("cannot write", tmp);
    }
  }
  std::remove(path.c_str());
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    sys_error("cannot rename onto", path);
  }
}
#else
void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string target = follow_symlinks(path);
  struct stat st;
  const bool exists = ::stat(target.c_str(), &st) == 0;
  if (exists && !S_ISREG(st.st_mode))
    throw std::invalid_argument("cannot save to '" + path + "': not a regular file (a folder, device, FIFO or socket)");
  const std::string dir = parent_of(target);
  const std::string prefix = "." + target.substr(target.find_last_of('/') + 1) + ".tmp-";
  remove_stale_temporaries(dir, prefix);
  std::string tmp = dir + "/" + prefix + std::to_string(long(::getpid())) + "-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) sys_error("cannot create a temporary file next to", path);
  auto fail = [&](const char* what, bool close_fd) {
    const int err = errno;
    if (close_fd) ::close(fd);
    ::unlink(tmp.c_str());
    errno = err;
    sys_error(what, path);
  };
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t w = ::write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", true);
    }
    p += w;
    left -= std::size_t(w);
  }
  if (::fsync(fd) != 0) fail("cannot fsync", true);
  mode_t mode;
  if (exists) {
    mode = st.st_mode & 07777;  // keep an existing file's permissions
  } else {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    mode = 0666 & ~mask;
  }
  if (::fchmod(fd, mode) != 0) fail("cannot set permissions on a temporary file for", true);
  if (::close(fd) != 0) fail("cannot close a temporary file for", false);
  if (::rename(tmp.c_str(), target.c_str()) != 0) fail("cannot rename onto", false);
  // Make the rename durable (best effort).
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}
#endif

}  // namespace fastmlp
