// octet's own version: the ground floor's, so that every file format can
// record which octet wrote it.
#include "octet/octet.hpp"

namespace octet {

std::string version() {
  return OCTET_VERSION;
}

}  // namespace octet
