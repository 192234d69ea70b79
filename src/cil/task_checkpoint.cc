// Writing and restoring the task checkpoints of a class-incremental run (task_checkpoint.h).
#include "lowbit/cil/task_checkpoint.h"

#include "lowbit/cil/report.h"
#include "lowbit/core/error.h"

namespace lowbit::cil {
namespace {
constexpr const char* kFormat = "lowbit-cil-task-checkpoint";
constexpr int kVersion = 1;
}  // namespace

std::string task_checkpoint_path(const std::string& json_path, const std::string& preset, uint64_t seed) {
  return fmt::format("{}.{}-seed{}.task.ckpt", json_path, preset, seed);
}

void save_task_checkpoint(const std::string& path, const nlohmann::json& fp, const RunResult& r, size_t tasks, Method& m) {
  LOWBIT_REQUIRE(r.head.num_tasks() == m.tasks_done() && m.tasks_done() >= 1, "cil::save_task_checkpoint",
                 "{} results for {} tasks done", r.head.num_tasks(), m.tasks_done());
  nn::Checkpoint ck;
  const nlohmann::json state = m.save_state(ck);
  const nlohmann::json meta = {{"format", kFormat}, {"version", kVersion}, {"config", fp}, {"preset", r.preset},
                               {"seed", r.seed}, {"tasks", tasks}, {"tasks_done", m.tasks_done()},
                               {"result", run_to_json(r)}, {"state", state}};
  ck.meta_json = meta.dump();
  nn::save_checkpoint(path, ck);
}

RunResult restore_task_checkpoint(const nn::Checkpoint& ck, const std::string& origin, const nlohmann::json& fp,
                                  const std::string& preset, uint64_t seed, const CilSetup& setup, Method& m) {
  const nlohmann::json meta = nlohmann::json::parse(ck.meta_json, nullptr, false);
  const auto bad = [&](const std::string& what) { return IoError(fmt::format("[cil] {}: {}", origin, what)); };
  if (meta.is_discarded() || !meta.is_object() || !meta.contains("format") || meta["format"] != kFormat)
    throw bad("not a task checkpoint of `lowbit cil` (metadata format is not lowbit-cil-task-checkpoint)");
  if (!meta.contains("version") || meta["version"] != kVersion)
    throw bad(fmt::format("unsupported task checkpoint version {} (this build reads {})",
                          meta.contains("version") ? meta["version"].dump() : "none", kVersion));
  if (!meta.contains("config") || meta["config"] != fp)
    throw ValueError(fmt::format("[cil] --resume: {} was written with other settings ({}); this run has {}. "
                                 "Remove it or choose another --json path", origin,
                                 meta.contains("config") ? meta["config"].dump() : "none", fp.dump()));
  const size_t tasks = setup.tasks.size();
  const auto integer = [&](const char* key) -> int64_t {
    if (!meta.contains(key) || !meta[key].is_number_integer()) throw bad(fmt::format("'{}' is missing or not an integer", key));
    return meta[key].get<int64_t>();
  };
  if (!meta.contains("preset") || meta["preset"] != preset || !meta.contains("seed") || !meta["seed"].is_number_unsigned() ||
      meta["seed"].get<uint64_t>() != seed)
    throw bad(fmt::format("written for preset {} seed {}, expected {} seed {}", meta.value("preset", nlohmann::json()).dump(),
                          meta.value("seed", nlohmann::json()).dump(), preset, seed));
  if (integer("tasks") != static_cast<int64_t>(tasks)) throw bad(fmt::format("written for {} tasks, this run has {}", meta["tasks"].dump(), tasks));
  const int64_t done = integer("tasks_done");
  if (done < 1 || done >= static_cast<int64_t>(tasks))
    throw bad(fmt::format("{} tasks done: a task checkpoint lies between task 1 and task {}", done, tasks - 1));
  if (!meta.contains("result") || !meta.contains("state")) throw bad("'result' or 'state' is missing");
  RunResult r = run_from_json(meta["result"], origin, static_cast<size_t>(done));
  if (r.preset != preset || r.seed != seed) throw bad("the recorded results belong to another run");
  if (m.has_memory() != (r.nme.num_tasks() > 0)) throw bad("NME results do not match the method's memory");
  m.load_state(ck, meta["state"], static_cast<int>(done), setup.train, setup.tasks, origin);
  return r;
}

}  // namespace lowbit::cil
