#include "process_pool.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <vector>

#include "test_util.hpp"

extern char** environ;

namespace fc::test {

std::string exact_test_spec(const std::string& name) {
  std::string spec;
  for (char c : name) {
    if (std::strchr(",[]\"~*\\", c)) spec += '\\';
    spec += c;
  }
  return spec;
}

std::string this_executable() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) throw std::runtime_error("cannot read /proc/self/exe");
  return std::string(path, static_cast<size_t>(n));
}

namespace {

using Clock = std::chrono::steady_clock;

struct Running {
  std::string name;
  std::string log;  // the child's stdout and stderr
  Clock::time_point began;
};

struct Finished {
  std::string name;
  double seconds = 0;
  bool passed = false;
};

// Whether `line` is the totals line "N passed, M failed" and nothing more (its numbers
// in *passed and *failed).
bool totals_line(const std::string& line, unsigned long long* passed, unsigned long long* failed) {
  char tail = 0;  // (2 fields and no third: nothing after "failed")
  return std::sscanf(line.c_str(), "%llu passed, %llu failed%c", passed, failed, &tail) == 2;
}

// What a passing case printed beyond Catch's own frame (banner, rules, the summary
// and our totals line): warnings, skips, measurements. Empty when nothing.
std::string beyond_the_frame(const std::string& out, const std::string& name) {
  std::istringstream in(out);
  std::string line, kept;
  while (std::getline(in, line)) {
    const bool rule = !line.empty() && line.find_first_not_of("=-.~") == std::string::npos;
    if (line.empty() || rule || line == name || line.rfind("All tests passed", 0) == 0 ||
        line.find(" is a Catch v") != std::string::npos || line == "Run with -? for options" ||
        line.rfind("Filters: ", 0) == 0)
      continue;
    unsigned long long p = 0, f = 0;
    if (totals_line(line, &p, &f)) continue;
    kept += "    " + line + "\n";
  }
  return kept;
}

// The child's own last line "N passed, M failed" said 1 passed, 0 failed.
bool child_passed(const std::string& out) {
  const size_t end = out.find_last_not_of('\n');
  if (end == std::string::npos) return false;
  const size_t newline = out.rfind('\n', end);
  const size_t begin = newline == std::string::npos ? 0 : newline + 1;
  unsigned long long p = 0, f = 0;
  return totals_line(out.substr(begin, end + 1 - begin), &p, &f) && p == 1 && f == 0;
}

pid_t start(const std::string& self, const std::string& name, const std::string& log) {
  posix_spawn_file_actions_t io;
  posix_spawn_file_actions_init(&io);
  posix_spawn_file_actions_addopen(&io, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&io, STDOUT_FILENO, STDERR_FILENO);
  // (a leading space, which the spec parser skips, keeps a name that starts with '-'
  // from being read as an option)
  const std::string spec = " " + exact_test_spec(name);
  std::vector<char*> argv = {const_cast<char*>(self.c_str()), const_cast<char*>(spec.c_str()),
                             const_cast<char*>("--use-colour"), const_cast<char*>("no"), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, self.c_str(), &io, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&io);
  if (rc != 0) {
    std::fprintf(stderr, "run_tests: cannot start %s: %s\n", self.c_str(), std::strerror(rc));
    std::exit(2);
  }
  return pid;
}

}  // namespace

int run_in_processes(const std::vector<std::string>& names, int jobs) {
  const std::string self = this_executable();
  if (names.empty()) {
    std::printf("No test cases matched\n0 passed, 0 failed\n");
    return 2;
  }
  std::printf("run_tests: %zu test cases, %d at a time, each in its own process\n", names.size(), jobs);
  std::fflush(stdout);

  const TempDir logs;  // the children's outputs, removed at the end
  const Clock::time_point suite_began = Clock::now();
  std::map<pid_t, Running> running;
  std::vector<Finished> done;
  size_t next = 0;
  int width = static_cast<int>(std::to_string(names.size()).size());
  while (next < names.size() || !running.empty()) {
    while (next < names.size() && static_cast<int>(running.size()) < jobs) {
      const std::string log = logs.file(std::to_string(next) + ".log");
      running[start(self, names[next], log)] = {names[next], log, Clock::now()};
      ++next;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      std::perror("run_tests: waitpid");
      return 2;
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;  // (a process this one did not start)
    const Running r = it->second;
    running.erase(it);
    const std::string out = read_bytes(r.log);
    Finished f;
    f.name = r.name;
    f.seconds = std::chrono::duration<double>(Clock::now() - r.began).count();
    f.passed = WIFEXITED(status) && WEXITSTATUS(status) == 0 && child_passed(out);
    done.push_back(f);
    const double elapsed = std::chrono::duration<double>(Clock::now() - suite_began).count();
    std::printf("[%*zu/%zu %4.0f s] %s %6.1f s  %s\n", width, done.size(), names.size(), elapsed,
                f.passed ? "ok    " : "FAILED", f.seconds, f.name.c_str());
    if (!f.passed) {
      std::string how = WIFSIGNALED(status) ? std::string("killed by signal ") + strsignal(WTERMSIG(status))
                                            : "exit status " + std::to_string(WEXITSTATUS(status));
      std::printf("---- output of \"%s\" (%s):\n%s---- end of \"%s\"\n", f.name.c_str(), how.c_str(),
                  out.c_str(), f.name.c_str());
    } else {
      std::fputs(beyond_the_frame(out, f.name).c_str(), stdout);
    }
    std::fflush(stdout);
  }

  std::vector<Finished> slowest = done;
  std::sort(slowest.begin(), slowest.end(), [](const Finished& a, const Finished& b) { return a.seconds > b.seconds; });
  slowest.resize(std::min<size_t>(slowest.size(), 8));
  std::printf("slowest:\n");
  for (const Finished& f : slowest) std::printf("  %6.1f s  %s\n", f.seconds, f.name.c_str());
  size_t passed = 0, failed = 0;
  for (const Finished& f : done) (f.passed ? passed : failed)++;
  if (failed) {
    std::printf("failed:\n");
    for (const Finished& f : done)
      if (!f.passed) std::printf("  %s\n", f.name.c_str());
  }
  std::printf("%.0f s in all\n%zu passed, %zu failed\n",
              std::chrono::duration<double>(Clock::now() - suite_began).count(), passed, failed);
  return failed ? 1 : 0;
}

}  // namespace fc::test
