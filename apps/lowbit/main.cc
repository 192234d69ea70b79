// lowbit CLI entry point (placeholder until subcommands land).
#include <cstdio>
int main() { std::puts("lowbit"); return 0; }
