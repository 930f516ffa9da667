#include "cli/args.h"

#include "ir/support/suggest.h"

namespace mvm::cli {
namespace {

// How a user types the flag: `-o`, `--format`.
std::string Spelling(std::string_view name) {
  return (name.size() == 1 ? "-" : "--") + std::string(name);
}

}  // namespace

std::string Args::Get(std::string_view name, std::string_view fallback) const {
  auto it = flags.find(name);
  if (it == flags.end() || it->second.empty()) {
    return std::string(fallback);
  }
  return it->second.back();
}

std::vector<std::filesystem::path> Args::Paths(std::string_view name) const {
  auto it = flags.find(name);
  if (it == flags.end()) {
    return {};
  }
  return {it->second.begin(), it->second.end()};
}

std::optional<Args> ParseArgs(const std::vector<std::string>& argv,
                              const std::vector<FlagSpec>& specs, std::string& error) {
  ArgsError detail;
  auto args = ParseArgs(argv, specs, detail);
  if (!args) {
    error = std::move(detail.message);
  }
  return args;
}

std::optional<Args> ParseArgs(const std::vector<std::string>& argv,
                              const std::vector<FlagSpec>& specs, ArgsError& error) {
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "--") {
      args.after_dashdash.assign(argv.begin() + static_cast<long>(i) + 1, argv.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-' || arg == "-") {
      args.positional.push_back(arg);
      continue;
    }
    std::string_view body = arg;
    body.remove_prefix(body.starts_with("--") ? 2 : 1);
    std::optional<std::string> inline_value;
    if (size_t eq = body.find('='); eq != std::string_view::npos) {
      inline_value = std::string(body.substr(eq + 1));
      body = body.substr(0, eq);
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : specs) {
      if (s.name == body) {
        spec = &s;
      }
    }
    // `-it` is `-i -t`, as with getopt: one-letter flags without values, given together.
    if (spec == nullptr && !arg.starts_with("--") && body.size() > 1 && !inline_value) {
      std::vector<const FlagSpec*> letters;
      for (char letter : body) {
        for (const FlagSpec& s : specs) {
          if (s.name.size() == 1 && s.name[0] == letter && !s.takes_value) {
            letters.push_back(&s);
          }
        }
      }
      if (letters.size() == body.size()) {
        for (const FlagSpec* letter : letters) {
          auto& values = args.flags[std::string(letter->name)];
          if (!values.empty() && !letter->repeatable) {
            error.message = "flag `" + Spelling(letter->name) + "` is given more than once";
            return std::nullopt;
          }
          values.emplace_back();
        }
        continue;
      }
    }
    if (spec == nullptr) {
      error.message = "unknown flag `" + arg + "`";
      error.unknown_flag = arg;
      error.positionals_before = args.positional;
      std::vector<std::string_view> names;
      for (const FlagSpec& s : specs) {
        names.push_back(s.name);
      }
      // A one-letter flag is one edit from every other one-letter flag: no suggestion is plausible.
      if (auto suggestion = body.size() > 1 ? DidYouMean(body, names) : std::nullopt) {
        error.suggestion = Spelling(*suggestion);
        error.message += "; did you mean `" + *error.suggestion + "`?";
      }
      return std::nullopt;
    }
    std::string value;
    if (spec->takes_value) {
      if (inline_value) {
        value = *inline_value;
      } else if (i + 1 < argv.size()) {
        value = argv[++i];
      } else {
        error.message = "flag `" + Spelling(spec->name) + "` needs a value";
        return std::nullopt;
      }
    } else if (inline_value) {
      error.message = "flag `" + Spelling(spec->name) + "` takes no value";
      return std::nullopt;
    }
    auto& values = args.flags[std::string(spec->name)];
    if (!values.empty() && !spec->repeatable) {
      error.message = "flag `" + Spelling(spec->name) + "` is given more than once";
      return std::nullopt;
    }
    values.push_back(std::move(value));
  }
  return args;
}

}  // namespace mvm::cli
