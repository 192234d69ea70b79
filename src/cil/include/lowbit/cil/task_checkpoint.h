// Task checkpoints of `lowbit cil --json FILE`: after each task of a (preset, seed) run that has
// tasks left, everything the rest of the run depends on (Method::save_state: model parameters and
// buffers, quantizer state, exemplar memory and class means, BiC's corrections) plus the results
// so far, so --resume restarts the run from its last finished task. The file sits next to
// FILE.partial as FILE.<preset>-seed<S>.task.ckpt; it is an nn checkpoint (nn/checkpoint.h,
// written atomically) whose metadata is
//   {"format": "lowbit-cil-task-checkpoint", "version": 1, "config": <session fingerprint>,
//    "preset", "seed", "tasks": T, "tasks_done": k, "result": <run_to_json of tasks 1..k>,
//    "state": <Method::save_state JSON>}
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lowbit/cil/runner.h"
#include "lowbit/nn/checkpoint.h"

namespace lowbit::cil {

std::string task_checkpoint_path(const std::string& json_path, const std::string& preset, uint64_t seed);

// Writes the checkpoint of `m` after the tasks recorded in `r` (of `tasks` in all).
void save_task_checkpoint(const std::string& path, const nlohmann::json& fp, const RunResult& r, size_t tasks, Method& m);

// Restores a checkpoint into `m`, a fresh method of (preset, seed) over `setup`, and returns the
// results of the tasks it had done. ValueError when it was written under another fingerprint
// `fp` (as parse_partial); IoError naming `origin` when it is not a task checkpoint of this
// (preset, seed) and task count, or its state does not fit the run.
RunResult restore_task_checkpoint(const nn::Checkpoint& ck, const std::string& origin, const nlohmann::json& fp,
                                  const std::string& preset, uint64_t seed, const CilSetup& setup, Method& m);

}  // namespace lowbit::cil
