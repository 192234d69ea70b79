// Reports of class-incremental runs (`lowbit cil`): per-preset task tables, the preset
// comparison and degradation tables, the JSON summary, and the (de)serialization of finished
// runs for resuming a session (session.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lowbit/cil/runner.h"

namespace lowbit::cil {

// Which accuracy matrices a report shows: the linear head, nearest-mean-of-exemplars, or both
// (then the head is the primary metric and NME is reported beside it).
struct CilEval {
  bool head = true, nme = true;
  std::string primary() const { return head ? "head" : "nme"; }
};

nlohmann::json run_to_json(const RunResult& r);
// IoError naming `origin` when a field is missing, has the wrong type, or its matrices are not
// those of a run over `tasks` tasks (accuracies in [0, 1]).
RunResult run_from_json(const nlohmann::json& j, const std::string& origin, size_t tasks);
// The finished runs of a `<json>.partial` file (--resume): IoError when the text is not such a
// file or a run is malformed, ValueError when it was written under another fingerprint `fp`.
std::vector<RunResult> parse_partial(std::string_view text, const std::string& origin, const nlohmann::json& fp,
                                          size_t tasks);

// The runs of one preset, in seed order.
std::vector<const RunResult*> runs_of(const std::vector<RunResult>& runs, const std::string& preset);

// Task table and summary of one preset (text, ends with a newline).
std::string task_table(const CilSetup& setup, const std::vector<const RunResult*>& runs, const CilEval& eval);
// One row per preset, then each preset minus the baseline in percentage points.
std::string compare_table(const std::vector<RunResult>& runs, const std::vector<std::string>& presets,
                          const std::string& baseline, const CilEval& eval);

// presets.<name>: {avg_incremental_accuracy, final_accuracy, forgetting: {mean, std}, tasks,
// runs, seconds[, nme: {...}]}, accuracies on a 0-1 scale.
nlohmann::json preset_json(const CilSetup& setup, const std::vector<const RunResult*>& runs,
                           const CilEval& eval);
// degradation.<preset>: {avg_incremental_accuracy_pp, final_accuracy_pp, forgetting_pp}, each
// preset's mean minus the baseline's, in percentage points.
nlohmann::json degradation_json(const std::vector<RunResult>& runs, const std::vector<std::string>& presets,
                                const std::string& baseline, const CilEval& eval);

}  // namespace lowbit::cil
