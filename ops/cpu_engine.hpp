// The CPU that oneDNN runs on: the process-wide engine every kernel is built
// for, and (declared in the public header) the instruction set it dispatches
// to, which decides some int8 paths.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

namespace octet {

const dnnl::engine& cpu_engine();

}  // namespace octet
