#include "runtime/ir/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "octet/octet.hpp"

namespace octet {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::io, "cannot open '" + path + "': " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(ErrorCode::io, "cannot read '" + path + "'");
  return ss.str();
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  auto fail = [&](const std::string& what) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error(ErrorCode::io, what + ": " + reason);
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(ErrorCode::io, "cannot create '" + tmp + "': " + std::strerror(errno));
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      fail("cannot write '" + tmp + "'");
    }
    done += static_cast<size_t>(n);
  }
  // The data reaches the disk before the rename does: after a power cut the
  // name holds the old file or the whole new one, never a torn one.
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail("cannot flush '" + tmp + "' to disk");
  }
  if (::close(fd) != 0) fail("cannot write '" + tmp + "'");
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    fail("cannot rename '" + tmp + "' to '" + path + "'");
  }
  // And the rename itself: sync the folder's entry (best effort: some file
  // systems refuse to open a folder for this).
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace octet
