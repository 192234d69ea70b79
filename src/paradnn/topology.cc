// Core/socket/NUMA topology through hwloc (physical cores, not just hardware threads).
#include <hwloc.h>

#include <algorithm>

#include "lowbit/core/error.h"
#include "lowbit/paradnn/tune.h"

namespace lowbit::paradnn {

nlohmann::json Topology::to_json() const {
  return {{"sockets", sockets}, {"numa_nodes", numa_nodes}, {"physical_cores", physical_cores},
          {"logical_cores", logical_cores}, {"source", source}};
}

Topology detect_topology() {
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0)
    throw IoError("[tune] hwloc could not read the machine topology");
  Topology t;
  auto count = [&](hwloc_obj_type_t type) { return std::max(1, hwloc_get_nbobjs_by_type(topo, type)); };
  t.sockets = count(HWLOC_OBJ_PACKAGE);
  t.numa_nodes = count(HWLOC_OBJ_NUMANODE);
  t.physical_cores = count(HWLOC_OBJ_CORE);
  t.logical_cores = count(HWLOC_OBJ_PU);
  const unsigned v = hwloc_get_api_version();
  t.source = fmt::format("hwloc {}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff);
  hwloc_topology_destroy(topo);
  return t;
}

}  // namespace lowbit::paradnn
