// The configuration as a person meets it: the command line (checked before
// CAF sees it, with the closest valid name for a typo), the config file
// (INI syntax errors with file, line and what was expected) and --help.
// CAF 0.17 reports all of these as bare parser codes, or not at all.
#include "actors/config.hpp"

#include "actors/catalog.hpp"
#include "actors/text.hpp"

#include <caf/detail/ini_consumer.hpp>
#include <caf/detail/parser/read_ini.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <sstream>

namespace actorq {

namespace {

std::string str(caf::string_view x) {
  return std::string(x.data(), x.size());
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

std::string trim(const std::string& s) {
  auto first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos)
    return "";
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

/// What a value of each CAF type looks like, for help and error messages:
/// placeholder, and what is expected.
struct type_text {
  const char* placeholder;
  const char* expected;
};

type_text describe(caf::string_view type_name) {
  auto t = str(type_name);
  if (t == "timespan")
    return {"DURATION", "a duration with a unit (500ms, 30s, 2min, 1h; a bare "
                        "number only for 0)"};
  if (starts_with(t, "int") || starts_with(t, "uint"))
    return {"INT", "an integer"};
  if (starts_with(t, "bool"))
    return {"BOOL", "true or false"};
  if (starts_with(t, "real") || t == "double" || t == "float")
    return {"NUMBER", "a number"};
  if (t == "string" || t == "std::string")
    return {"STRING", "a string (in an INI file: in double quotes)"};
  return {"VALUE", nullptr};
}

/// Derived defaults --help cannot read from the option's variable.
const std::pair<const char*, const char*> shown_defaults[] = {
    {"http.max-waiting", "max-threads - 64"},
    {"http.auth-token", "$ACTORQ_AUTH_TOKEN"},
    {"cluster.name", "host-pid"},
};

std::string shown_default(const caf::config_option& opt) {
  auto name = str(opt.full_name());
  for (auto& [key, text] : shown_defaults)
    if (name == key)
      return text;
  auto value = opt.get();
  if (!value)
    return "";
  if (auto s = caf::get_if<std::string>(&*value))
    return s->empty() ? "none" : *s;
  if (auto d = caf::get_if<double>(&*value)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", *d);
    return buf;
  }
  return caf::to_string(*value);
}

/// "  NAME   doc" for the keys of [pools.NAME] and [kinds.NAME].
std::string key_line(const std::string& name, const std::string& doc) {
  char line[1024];
  std::snprintf(line, sizeof line, "  %-28s %s\n", name.c_str(), doc.c_str());
  return line;
}

/// Line `n` (from 1) of `text`, without its newline.
std::string line_of(const std::string& text, int n) {
  std::istringstream in{text};
  std::string line;
  for (int i = 0; i < n && std::getline(in, line); ++i)
    ;
  return line;
}

/// The line where the last list or map still open at the end was opened
/// (CAF reports only the end of the file).
int unclosed_bracket_line(const std::string& text) {
  int line = 1, depth = 0, opened = 0;
  bool in_string = false, in_comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      in_comment = false;
    } else if (in_comment) {
    } else if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == ';' || c == '#') {
      in_comment = true;
    } else if (c == '[' || c == '{') {
      if (depth++ == 0)
        opened = line;
    } else if (c == ']' || c == '}') {
      depth = std::max(0, depth - 1);
    }
  }
  return depth > 0 ? opened : line;
}

/// Values of keys named like secrets never reach a message (or a log).
bool secret_key(const std::string& key) {
  return key.find("token") != std::string::npos
         || key.find("passphrase") != std::string::npos
         || key.find("secret") != std::string::npos;
}

/// The section ("http", "pools.io") line `n` of `text` is in.
std::string section_at(const std::string& text, int n) {
  std::istringstream in{text};
  std::string line, section;
  for (int i = 1; i < n && std::getline(in, line); ++i) {
    auto t = trim(line);
    if (starts_with(t, "[") && t.find(']') != std::string::npos)
      section = trim(t.substr(1, t.find(']') - 1));
  }
  return section;
}

/// What probably went wrong on a line CAF's INI parser stopped at; `want`
/// says what the key takes ("" for a string or a key actorq does not know).
std::string ini_hint(const std::string& key, const std::string& value,
                     const std::string& want) {
  if (starts_with(value, "\"") && value.find('"', 1) == std::string::npos)
    return "the string is not closed: " + key + " = \"...\"";
  if (starts_with(value, "\""))
    return "unexpected text after the string (comments start with ';')";
  if (starts_with(value, "[") || starts_with(value, "{"))
    return "inside [ ] and { } too, strings need double quotes "
           "([\"a\", \"b\"]); comments start with ';'";
  if (!want.empty())
    return key + " takes " + want;
  // A bare word that is not a number, duration or boolean: almost always a
  // string without its quotes.
  auto word = trim(value.substr(0, value.find(';')));
  auto parsed = caf::config_value::parse(word);
  if (!parsed || caf::holds_alternative<std::string>(*parsed)
      || caf::holds_alternative<caf::atom_value>(*parsed))
    return "strings need double quotes: " + key + " = \""
           + (secret_key(key) ? "..." : word) + "\"";
  return "unexpected text after the value (comments start with ';')";
}

} // namespace

std::string actorq_config::ini_syntax_error(caf::pec code, int line,
                                            int column) const {
  auto& text = file_text_;
  if (code == caf::pec::unexpected_eof) {
    auto at = unclosed_bracket_line(text);
    return file_name_ + ":" + std::to_string(at) + ": the file ends inside "
           "the list or map opened here (a missing ']' or '}')";
  }
  // A line that ended too soon is reported at the start of the next one.
  if (code == caf::pec::unexpected_newline && column == 1 && line > 1)
    --line;
  auto where = file_name_ + ":" + std::to_string(line) + ": ";
  auto shown = trim(line_of(text, line));
  if (starts_with(shown, "[") && shown.find(']') == std::string::npos)
    return where + "cannot read `" + shown + "`: a section header needs its "
           "closing ']', as in [http]";
  auto eq = shown.find('=');
  if (eq == std::string::npos)
    return where + "cannot read `" + shown + "`: expected KEY = VALUE, a "
           "[section] or a ; comment";
  auto key = trim(shown.substr(0, eq));
  auto section = section_at(text, line);
  auto opt = option(section.empty() ? key : section + "." + key);
  std::string want;
  if (opt != nullptr && describe(opt->type_name()).placeholder
                            != std::string{"STRING"})
    want = describe(opt->type_name()).expected;
  auto value = trim(shown.substr(eq + 1));
  return where + "cannot read `"
         + (secret_key(key) ? key + " = ..." : shown)
         + "`: " + ini_hint(key, value, want);
}

std::string expected_value(const std::string& key, caf::string_view type_name,
                           const std::string& got) {
  auto t = describe(type_name);
  std::string want = t.expected != nullptr ? t.expected : str(type_name);
  if (secret_key(key))
    return "expected " + want;
  if (str(type_name) == "timespan" && !got.empty()
      && std::all_of(got.begin(), got.end(),
                     [](unsigned char c) { return std::isdigit(c) != 0; }))
    return got + " has no unit: write " + got + "s or " + got
           + "ms (a bare number is a duration only for 0)";
  return "expected " + want + ", got " + got;
}

std::vector<std::string> actorq_config::option_names() const {
  std::vector<std::string> out;
  for (auto& opt : custom_options_) {
    auto name = str(opt.full_name());
    out.push_back(starts_with(name, "global.") ? name.substr(7) : name);
  }
  return out;
}

std::string actorq_config::closest_option(const std::string& name) const {
  auto names = option_names();
  if (auto best = closest_name(name, names); !best.empty())
    return best;
  // "--max-retry": a key without its group is compared with the keys alone.
  if (name.find('.') != std::string::npos)
    return "";
  std::vector<std::string> keys;
  for (auto& n : names)
    keys.push_back(n.substr(n.rfind('.') + 1));
  auto best = closest_name(name, keys);
  if (best.empty())
    return "";
  return names[std::find(keys.begin(), keys.end(), best) - keys.begin()];
}

std::string actorq_config::check_arg(const std::string& name,
                                     std::string& value) const {
  auto opt = option(name);
  if (opt == nullptr) {
    auto best = closest_option(name);
    return "unknown option --" + name
           + (best.empty() ? "" : " (did you mean --" + best + "?)");
  }
  // CAF reads durations with a unit only: "0" means none (documented).
  if (opt->type_name() == "timespan" && value == "0")
    value = "0s";
  if (!opt->parse(value))
    return "bad value for --" + name + ": "
           + expected_value(name, opt->type_name(), value);
  return "";
}

std::string actorq_config::take_option(const std::string& name,
                                       std::optional<std::string> value,
                                       std::vector<std::string>& args) {
  // --pools.NAME.KEY=VALUE and --kinds.NAME.KEY=VALUE: any NAME, so CAF
  // cannot declare them; validate() applies them over the file's values.
  if (starts_with(name, "pools.") || starts_with(name, "kinds.")
      || starts_with(name, "schedules.")) {
    section_args_.emplace_back(name, value.value_or(""));
    cli_keys_.push_back(name);
    return "";
  }
  auto opt = option(name);
  if (opt != nullptr && !value && !opt->is_flag())
    return "option --" + name + " needs a value: --" + name + "="
           + describe(opt->type_name()).placeholder;
  auto text = value.value_or("");
  if (value || opt == nullptr)
    if (auto problem = check_arg(name, text); !problem.empty())
      return problem;
  if (name == "config-file")
    config_file_arg_ = text;
  cli_keys_.push_back(name);
  // CAF 0.17 takes a flag only bare (--cluster.insecure): a value given
  // (--metrics.enabled=false) goes into `content` after CAF's parse, over
  // the config file's (validate()).
  if (opt != nullptr && opt->is_flag() && value) {
    flag_args_.emplace_back(name, text == "true");
    return "";
  }
  args.push_back(value ? "--" + name + "=" + text : "--" + name);
  return "";
}

std::vector<std::string>
actorq_config::prepare_args(int argc, char** argv,
                            std::vector<std::string>& problems) {
  std::vector<std::string> args{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "-?" || a == "--help") {
      help_requested_ = true;
      continue;
    }
    if (!starts_with(a, "--") || a.size() == 2) {
      problems.push_back((starts_with(a, "-") ? "unknown option " + a
                                              : "unexpected argument '" + a
                                                  + "'")
                         + " (options are --GROUP.KEY=VALUE; see --help)");
      continue;
    }
    auto eq = a.find('=');
    auto name = a.substr(2, eq == std::string::npos ? eq : eq - 2);
    std::optional<std::string> value;
    // "--KEY VALUE" as well as "--KEY=VALUE" (CAF reads only the latter);
    // flags (--cluster.insecure) take no value.
    auto opt = option(name);
    if (eq != std::string::npos)
      value = a.substr(eq + 1);
    else if ((opt == nullptr || !opt->is_flag()) && i + 1 < argc
             && !starts_with(argv[i + 1], "--"))
      value = argv[++i];
    if (auto problem = take_option(name, value, args); !problem.empty())
      problems.push_back(problem);
  }
  // CAF reads caf-application.ini when no file is named, if it is there.
  if (problems.empty() && !help_requested_)
    read_config_file(config_file_arg_.value_or("caf-application.ini"),
                     config_file_arg_.has_value(), problems);
  return args;
}

void actorq_config::read_config_file(const std::string& file, bool named,
                                     std::vector<std::string>& problems) {
  std::ifstream in{file};
  if (!in) {
    if (named)
      problems.push_back("cannot open the config file '" + file + "'");
    return;
  }
  file_name_ = file;
  file_text_.assign(std::istreambuf_iterator<char>{in}, {});
  // The parser CAF's parse() runs, with no options: nothing is type-checked
  // or dropped, and the parser state says where it stopped — also at the end
  // of the file, which CAF's parse() takes for success.
  caf::config_option_set none;
  caf::detail::ini_consumer consumer{none, file_content_};
  caf::string_parser_state ps{file_text_.data(),
                              file_text_.data() + file_text_.size()};
  caf::detail::parser::read_ini(ps, consumer);
  if (ps.code != caf::pec::success)
    problems.push_back(ini_syntax_error(ps.code, ps.line, ps.column));
}

void actorq_config::check_file_values(std::vector<std::string>& problems) {
  std::function<void(const caf::settings&, const std::string&)> walk =
      [&](const caf::settings& xs, const std::string& prefix) {
        for (auto& [key, value] : xs) {
          auto name = prefix.empty() ? str(key) : prefix + "." + str(key);
          if (auto dict = caf::get_if<caf::settings>(&value)) {
            walk(*dict, name);
            continue;
          }
          auto opt = option(name);
          if (opt == nullptr || !opt->check(value))
            continue; // unknown keys stay in content: validate() names them
          if (opt->type_name() == "timespan"
              && caf::get_if<int64_t>(&value) != nullptr
              && *caf::get_if<int64_t>(&value) == 0) {
            // A bare 0 is a duration (documented); validate() reads it.
            if (caf::get_if(&content, name) == nullptr)
              caf::put(content, name, value);
            continue;
          }
          // A wrong value in the file is an error even where the command
          // line overrides it: the file is wrong for the next start.
          problems.push_back(file_location(name, true) + "bad value for '"
                             + name + "': "
                             + expected_value(name, opt->type_name(),
                                              caf::to_string(value)));
        }
      };
  walk(file_content_, "");
}

std::string actorq_config::file_location(const std::string& key,
                                         bool even_if_overridden) const {
  if (file_name_.empty()
      || (!even_if_overridden
          && std::find(cli_keys_.begin(), cli_keys_.end(), key)
               != cli_keys_.end()))
    return "";
  // Keys are "SECTION.KEY" under "[SECTION]", or "KEY" before any section.
  std::istringstream in{file_text_};
  std::string line, section;
  for (int n = 1; std::getline(in, line); ++n) {
    auto text = trim(line);
    if (starts_with(text, "[") && text.find(']') != std::string::npos) {
      section = trim(text.substr(1, text.find(']') - 1));
      continue;
    }
    auto eq = text.find('=');
    if (eq == std::string::npos)
      continue;
    auto name = trim(text.substr(0, eq));
    if ((section.empty() ? name : section + "." + name) == key)
      return file_name_ + ":" + std::to_string(n) + ": ";
  }
  return "";
}

std::string actorq_config::help_text() const {
  std::ostringstream out;
  out << "usage: actorq [--config-file=FILE] [--GROUP.KEY=VALUE ...]\n\n"
         "Every key of the config file (INI, see configs/default.ini) can be "
         "given as\n--GROUP.KEY=VALUE or --GROUP.KEY VALUE; the command line "
         "wins. Durations need\na unit (500ms, 30s, 2min, 1h); a bare number "
         "is a duration only for 0.\n";
  std::string category;
  for (size_t i = first_own_option_; i < custom_options_.size(); ++i) {
    auto& opt = *(custom_options_.begin() + i);
    if (str(opt.category()) != category) {
      category = str(opt.category());
      out << "\n[" << category << "]\n";
    }
    auto flag = "--" + str(opt.full_name()) + "="
                + describe(opt.type_name()).placeholder;
    char line[512];
    std::snprintf(line, sizeof line, "  %-34s %-19s %s\n", flag.c_str(),
                  shown_default(opt).c_str(), str(opt.description()).c_str());
    out << line;
  }
  out << "\n[pools.NAME]  any pool: --pools.NAME.KEY=VALUE "
         "(built in: io, cpu, limited, heavy)\n";
  for (auto& k : pool_key_docs())
    out << key_line(k.name, k.doc);
  out << "\n[kinds.NAME]  any kind: --kinds.NAME.KEY=VALUE "
         "(runner = exec, http, remote or lease)\n";
  for (auto& k : kind_key_docs()) {
    auto name = k.name + (k.applies_to.empty() ? "" : " (" + k.applies_to + ")");
    out << key_line(name, k.doc);
  }
  out << "\n[schedules.NAME]  periodic tasks: --schedules.NAME.KEY=VALUE\n";
  for (auto& k : schedule_key_docs())
    out << key_line(k.name, k.doc);
  out << "\nOther options:\n"
         "  --config-file=FILE   read this INI file (default: "
         "caf-application.ini if present)\n"
         "  --dump-config        print the configuration and exit\n"
         "  --long-help          also CAF's own options (scheduler, "
         "middleman, logger, ...)\n"
         "\nExit status 2: a configuration error (each printed with the key "
         "and, for the file, its line).\n";
  return out.str();
}

} // namespace actorq
