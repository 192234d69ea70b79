// `lowbit cil`: class-incremental learning (iCaRL, BiC, LwF, fine-tuning, joint) on a data set,
// optionally for several quantization presets on the same class order and seeds (--compare).
// The session (defaults per data set, resume, reports) is cil::run_session (cil/session.h).
#include "command.h"
#include "lowbit/cil/session.h"
#include "lowbit/data/load.h"

namespace lowbit::app {
namespace {

void setup_cil(CLI::App& cmd) {
  struct Args {
    cil::SessionOptions opt;
    std::string quant = "fp32";
    std::vector<std::string> compare;
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  cil::SessionOptions& o = a->opt;
  const std::vector<std::string> presets = fqt::preset_names();
  cmd.add_option("--dataset", o.dataset, "data set")->check(CLI::IsMember(data::dataset_names()))->capture_default_str();
  cmd.add_option("--data-dir", o.data_dir, "folder holding the data set (default: its standard place)");
  cmd.add_option("--method", o.method, "CIL method")->check(CLI::IsMember(cil::method_names()))->capture_default_str();
  cmd.add_option("--model", o.model, "network (default per data set: mlp, fcnet, resnet32)")
      ->check(CLI::IsMember(nn::model_names()));
  auto* quant = cmd.add_option("--quant", a->quant, "quantization preset")->check(CLI::IsMember(presets))->capture_default_str();
  cmd.add_option("--compare", a->compare, "run several presets on the same class order and seeds, e.g. fp32,hdqt,naive-int")
      ->delimiter(',')->check(CLI::IsMember(presets))->excludes(quant);
  cmd.add_option("--bits", o.bits, "operand bits of the quantized presets (default: the preset's)")->check(CLI::Range(2, 8));
  cmd.add_option("--acc-bits", o.acc_bits, "accumulator bits of the quantized presets (default: the preset's)")
      ->check(CLI::Range(2, 32));
  cmd.add_option("--quant-set", o.quant_set,
                 "comma-separated settings on top of the quantized presets: ablations (only=fwd.x, dx=fp32, "
                 "dw.g=fp32, ...) and knobs (fwd.x.clip=0.9, fwd.x.scale=row, fwd.x.quantile=0.975, fwd.x.period=5, "
                 "dw.x.round=nearest, hadamard.block=16, first.x=signed, first.layer=fp32, last.layer=fp32); see fqt/quant_overrides.cc");
  cmd.add_option("--split", o.split, "dsads: hold out test subjects, or a random 20 % of the windows (half test)")
      ->check(CLI::IsMember({"subject", "random"}))->capture_default_str();
  cmd.add_option("--classes-per-task", o.classes_per_task, "new classes per task (default per data set)")
      ->check(CLI::Range(1, 1000));
  cmd.add_option("--memory", o.memory, "total exemplars (icarl, bic; default per data set)")->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd.add_option("--epochs", o.epochs, "epochs per task (default per data set)")->check(CLI::Range(1, 100000));
  cmd.add_option("--lr", o.lr, "SGD learning rate (default per data set)")->check(CLI::Range(0.0, 100.0));
  cmd.add_option("--batch-size", o.batch_size, "mini-batch size (default 128)")->check(CLI::Range(1, 1 << 20));
  cmd.add_option("--momentum", o.momentum, "SGD momentum")->check(CLI::Range(0.0, 0.999))->capture_default_str();
  cmd.add_option("--weight-decay", o.weight_decay, "L2 weight decay (default per data set)")->check(CLI::Range(0.0, 1.0));
  cmd.add_option("--temperature", o.temperature, "distillation temperature")->check(CLI::Range(0.1, 100.0))->capture_default_str();
  cmd.add_option("--max-train-per-class", o.max_train_per_class, "use only the first N training samples of each class (0: all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd.add_option("--seeds", o.seeds, "number of seeds (runs --seed, --seed+1, ...)")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd.add_option("--seed", o.seed, "first seed (initialization, head growth, shuffling, stochastic rounding)")->capture_default_str();
  cmd.add_option("--class-order-seed", o.class_order_seed, "seed of the class order (same for every run)")->capture_default_str();
  cmd.add_option("--eval", o.eval, "classifier reported: linear head, nearest mean of exemplars, or both")
      ->check(CLI::IsMember({"head", "nme", "both"}))->capture_default_str();
  cmd.add_option("--json", o.json, "write the JSON report here ('-' for stdout)");
  cmd.add_option("--out-dir", o.out_dir, "save each run's final model as DIR/<preset>-seed<S>.ckpt (for lowbit eval/export)");
  cmd.add_option("--report", o.report, "write a self-contained HTML report (plots, degradation table) here");
  cmd.add_flag("--resume", o.resume,
               "reuse the finished (preset, seed) runs recorded in <json>.partial and continue an unfinished run "
               "from its task checkpoint <json>.<preset>-seed<S>.task.ckpt (written after every task), bit for bit");
  cmd.add_option("--stop-after-tasks", o.stop_after_tasks,
                 "exit after training this many tasks (over all runs), leaving the task checkpoint for --resume "
                 "(fits a long session into time-limited jobs; needs --json FILE)")
      ->check(CLI::Range(1, 1 << 30));
  cmd.add_flag("--quiet", o.quiet, "no progress output");
  add_threads_option(cmd, &a->threads);
  cmd.callback([a] {
    a->opt.presets = a->compare.empty() ? std::vector<std::string>{a->quant} : a->compare;
    cil::run_session(a->opt);
  });
}

}  // namespace

LOWBIT_COMMAND("cil", "class-incremental learning (iCaRL, BiC, LwF, fine-tuning, joint) with quantized presets", setup_cil);

}  // namespace lowbit::app
