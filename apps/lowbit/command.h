// Subcommand registry of the lowbit CLI. Each cmd_*.cc file registers its subcommand with
// LOWBIT_COMMAND("path", setup) where path is "train" or "bench gemm" (parents are created on
// demand); setup adds options and a callback to the CLI11 app it receives. Callbacks report
// user errors by throwing lowbit::Error (exit 1); CLI11 parse errors exit 2 with usage.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace lowbit::app {

using CommandSetup = std::function<void(CLI::App&)>;

struct CommandEntry {
  std::string path;         // space-separated, e.g. "bench gemm"
  std::string description;  // one line for --help
  CommandSetup setup;
};

std::vector<CommandEntry>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(std::string path, std::string description, CommandSetup setup) {
    command_registry().push_back({std::move(path), std::move(description), std::move(setup)});
  }
};

// Options every command that computes accepts: --threads (intra-op) and --seed.
void add_threads_option(CLI::App& cmd, int* threads);

}  // namespace lowbit::app

#define LOWBIT_CMD_CAT2(a, b) a##b
#define LOWBIT_CMD_CAT(a, b) LOWBIT_CMD_CAT2(a, b)
#define LOWBIT_COMMAND(path, description, setup) \
  static const ::lowbit::app::CommandRegistrar LOWBIT_CMD_CAT(lowbit_cmd_, __LINE__)(path, description, setup)
