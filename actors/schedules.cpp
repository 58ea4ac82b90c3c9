#include "actors/schedules.hpp"

#include "actors/catalog.hpp"
#include "actors/text.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <regex>

namespace actorq {

namespace {

using value = caf::config_value;

/// The smallest `every`: slots are whole seconds at least.
constexpr int64_t min_every_ms = 1000;
constexpr int64_t max_every_ms = int64_t{366} * 86400 * 1000;

/// A schedule section as read, before its keys are checked together.
struct schedule_draft {
  schedule_def def;
  bool has_kind = false, has_every = false, has_cron = false;
};

std::optional<std::string> text_of(const value& v) {
  if (auto s = caf::get_if<std::string>(&v))
    return *s;
  if (auto a = caf::get_if<caf::atom_value>(&v))
    return caf::to_string(*a);
  return std::nullopt;
}

/// "5m", "30s", "2min", "1h", "1d", "500ms" (or an unquoted INI duration,
/// which CAF reads as a timespan) in ms; nullopt if none of these.
std::optional<int64_t> duration_ms(const value& v) {
  if (auto t = caf::get_if<caf::timespan>(&v))
    return std::chrono::duration_cast<std::chrono::milliseconds>(*t).count();
  auto s = text_of(v);
  if (!s)
    return std::nullopt;
  static const std::regex re{R"(^\s*(\d{1,12})\s*(ms|s|m|min|h|d)\s*$)"};
  std::smatch m;
  if (!std::regex_match(*s, m, re))
    return std::nullopt;
  static const std::pair<const char*, int64_t> units[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60000}, {"min", 60000},
      {"h", 3600000}, {"d", 86400000}};
  for (auto& [unit, ms] : units)
    if (m[2] == unit)
      return std::stoll(m[1].str()) * ms;
  return std::nullopt;
}

using apply_fn = std::function<std::string(const value&, schedule_draft&)>;

/// One key of a [schedules.NAME] section: its apply returns "" or why the
/// value is wrong.
struct schedule_key {
  const char* name;
  const char* doc;
  apply_fn apply;
};

std::string expected(const std::string& what, const value& v) {
  return "expected " + what + ", got " + caf::to_string(v);
}

const std::vector<schedule_key>& schedule_keys() {
  static const std::vector<schedule_key> keys{
      {"kind", "the kind of the tasks it creates (required)",
       [](auto& v, auto& d) -> std::string {
         auto s = text_of(v);
         if (!s)
           return expected("a kind name", v);
         d.def.spec.kind = *s;
         d.has_kind = true;
         return {};
       }},
      {"input", "the tasks' input, a JSON text (default \"{}\")",
       [](auto& v, auto& d) -> std::string {
         auto s = text_of(v);
         if (!s)
           return expected("a JSON text such as \"{\\\"n\\\": 1}\"", v);
         auto j = json::parse(*s, nullptr, false);
         if (j.is_discarded())
           return "not valid JSON: " + *s;
         d.def.input_text = *s;
         d.def.spec.input.value = std::move(j);
         return {};
       }},
      {"every",
       "fire every this long, e.g. \"30s\", \"5m\", \"1h\" (slots aligned "
       "to the epoch, in UTC; at least 1s); or cron",
       [](auto& v, auto& d) -> std::string {
         auto ms = duration_ms(v);
         if (!ms)
           return expected("a duration such as \"30s\", \"5m\" or \"1h\"", v);
         if (*ms < min_every_ms || *ms > max_every_ms)
           return "must be between 1s and 366d";
         d.def.every_ms = *ms;
         d.def.every_text = text_of(v).value_or(caf::to_string(v));
         d.has_every = true;
         return {};
       }},
      {"cron",
       "five-field cron expression (minute hour day-of-month month "
       "day-of-week), e.g. \"*/5 * * * *\"; or every",
       [](auto& v, auto& d) -> std::string {
         auto s = text_of(v);
         if (!s)
           return expected("a cron expression such as \"*/5 * * * *\"", v);
         std::string error;
         d.def.cron = cron_expr::parse(*s, error);
         if (!d.def.cron)
           return "'" + *s + "': " + error;
         d.def.cron_text = *s;
         d.has_cron = true;
         return {};
       }},
      {"timezone", "IANA time zone of cron (default UTC), e.g. Europe/Berlin",
       [](auto& v, auto& d) -> std::string {
         auto s = text_of(v);
         if (!s)
           return expected("a time zone name such as \"Europe/Berlin\"", v);
         std::string error;
         auto z = time_zone::load(*s, error);
         if (!z)
           return error;
         d.def.zone = std::make_shared<time_zone>(std::move(*z));
         return {};
       }},
      {"pool", "the pool of its tasks (default: the kind's)",
       [](auto& v, auto& d) -> std::string {
         auto s = text_of(v);
         if (!s)
           return expected("a pool name", v);
         d.def.spec.pool = *s;
         return {};
       }},
      {"max-retries", "retries of its tasks (default: the kind's)",
       [](auto& v, auto& d) -> std::string {
         auto i = caf::get_if<int64_t>(&v);
         if (!i || *i < 0 || *i > max_task_retries)
           return expected("an integer 0.."
                             + std::to_string(max_task_retries), v);
         d.def.spec.max_retries = static_cast<int32_t>(*i);
         return {};
       }},
      {"priority", "priority of its tasks, 0..9 (default 5)",
       [](auto& v, auto& d) -> std::string {
         auto i = caf::get_if<int64_t>(&v);
         if (!i || *i < min_priority || *i > max_priority)
           return expected("an integer 0..9", v);
         d.def.spec.priority = static_cast<int32_t>(*i);
         return {};
       }},
      {"overlap",
       "\"skip\" (default: no new task while the last one has not ended; the "
       "slot is skipped) or \"allow\"",
       [](auto& v, auto& d) -> std::string {
         auto s = text_of(v);
         if (!s || (*s != "skip" && *s != "allow"))
           return expected("\"skip\" or \"allow\"", v);
         d.def.overlap = *s == "allow";
         return {};
       }},
      {"catch-up",
       "\"one\" (default: slots missed while actorq was down fire once at "
       "start) or \"none\"",
       [](auto& v, auto& d) -> std::string {
         auto s = text_of(v);
         if (!s || (*s != "one" && *s != "none"))
           return expected("\"one\" or \"none\"", v);
         d.def.catch_up = *s == "one";
         return {};
       }},
  };
  return keys;
}

std::vector<std::string> key_names() {
  std::vector<std::string> out;
  for (auto& k : schedule_keys())
    out.emplace_back(k.name);
  return out;
}

bool valid_name(const std::string& name) {
  static const std::regex re{"^[a-z][a-z0-9_-]{0,63}$"};
  return std::regex_match(name, re);
}

/// Reads one section; "" problems means a usable schedule.
void read_section(const std::string& name, const value::dictionary& xs,
                  const catalog& cat, std::vector<std::string>& problems,
                  std::vector<schedule_def>& out) {
  auto prefix = "schedules." + name;
  schedule_draft d;
  d.def.name = name;
  d.def.spec.schedule = name;
  d.def.spec.input.value = json::object();
  auto before = problems.size();
  for (auto& [key_view, v] : xs) {
    std::string key{key_view};
    auto def = std::find_if(schedule_keys().begin(), schedule_keys().end(),
                            [&](auto& k) { return key == k.name; });
    if (def == schedule_keys().end()) {
      problems.push_back("unknown configuration key '" + prefix + "." + key
                         + "'" + did_you_mean(key, key_names(), prefix + "."));
      continue;
    }
    if (auto why = def->apply(v, d); !why.empty())
      problems.push_back("bad value for '" + prefix + "." + key + "': " + why);
  }
  if (!d.has_kind)
    problems.push_back("bad value for '" + prefix + ".kind': schedule '" + name
                       + "' needs a kind");
  if (d.has_every == d.has_cron)
    problems.push_back("bad value for '" + prefix + "': schedule '" + name
                       + "' needs exactly one of every and cron");
  if (d.has_every && xs.find(caf::string_view{"timezone"}) != xs.end())
    problems.push_back("bad value for '" + prefix + ".timezone': schedule '"
                       + name + "' fires every " + d.def.every_text
                       + " (time zones apply to cron)");
  if (problems.size() > before)
    return;
  if (auto why = check_task(d.def.spec, cat); !why.empty()) {
    problems.push_back("bad value for '" + prefix + "': schedule '" + name
                       + "': " + why);
    return;
  }
  if (!d.def.next_slot(0)) {
    problems.push_back("bad value for '" + prefix + ".cron': schedule '" + name
                       + "' never fires ('" + d.def.cron_text + "')");
    return;
  }
  out.push_back(std::move(d.def));
}

} // namespace

std::optional<int64_t> schedule_def::next_slot(int64_t after_ms) const {
  if (every_ms > 0) {
    auto n = after_ms >= 0 ? after_ms / every_ms : -1;
    return (n + 1) * every_ms;
  }
  // Cron works in whole seconds: floor `after`, so a slot at exactly
  // after_ms (a whole minute) is not returned again.
  auto s = after_ms >= 0 ? after_ms / 1000 : (after_ms - 999) / 1000;
  auto next = cron->next_after(s, *zone);
  if (!next)
    return std::nullopt;
  return *next * 1000;
}

std::vector<schedule_def> read_schedules(const caf::settings& content,
                                         const catalog& cat,
                                         std::vector<std::string>& problems) {
  std::vector<schedule_def> out;
  auto i = content.find(caf::string_view{"schedules"});
  if (i == content.end())
    return out;
  auto xs = caf::get_if<value::dictionary>(&i->second);
  if (xs == nullptr) {
    problems.push_back("unknown configuration key 'schedules'");
    return out;
  }
  for (auto& [name_view, v] : *xs) {
    std::string name{name_view};
    if (!valid_name(name)) {
      problems.push_back("bad schedule name '" + name
                         + "': 1-64 of a-z 0-9 _ -, starting with a letter");
      continue;
    }
    auto dict = caf::get_if<value::dictionary>(&v);
    if (dict == nullptr) {
      problems.push_back("unknown configuration key 'schedules." + name + "'");
      continue;
    }
    read_section(name, *dict, cat, problems, out);
  }
  return out;
}

std::vector<section_key_doc> schedule_key_docs() {
  std::vector<section_key_doc> out;
  for (auto& k : schedule_keys())
    out.push_back({k.name, "", k.doc});
  return out;
}

// -- schedule_book --------------------------------------------------------------

schedule_book::schedule_book(std::vector<schedule_def> defs) {
  for (auto& d : defs)
    entries_.push_back({std::move(d), 0, {}, std::nullopt});
}

void schedule_book::restore(const schedule_mark& mark) {
  for (auto& e : entries_)
    if (e.def.name == mark.name) {
      e.last_slot = mark.slot;
      if (mark.task.hi != 0 || mark.task.lo != 0)
        e.last_task = mark.task;
    }
}

int64_t schedule_book::latest_due(const entry& e, int64_t now) const {
  if (e.def.every_ms > 0)
    return now / e.def.every_ms * e.def.every_ms;
  // Walk the cron slots up to now, from at most a day back when one falls
  // within the last day (after a long downtime an every-minute schedule
  // would be a long walk); bounded in any case.
  int64_t slot = *e.next;
  if (auto recent = e.def.next_slot(now - 86'400'000);
      recent && *recent <= now && *recent > slot)
    slot = *recent;
  for (int i = 0; i < 100000; ++i) {
    auto n = e.def.next_slot(slot);
    if (!n || *n > now)
      break;
    slot = *n;
  }
  return slot;
}

std::vector<firing> schedule_book::start(int64_t now) {
  std::vector<firing> out;
  for (size_t i = 0; i < entries_.size(); ++i) {
    auto& e = entries_[i];
    if (e.last_slot == 0) { // new: from the next slot on
      e.next = e.def.next_slot(now);
      continue;
    }
    e.next = e.def.next_slot(e.last_slot);
    if (!e.next || *e.next > now)
      continue;
    auto missed = latest_due(e, now);
    if (e.def.catch_up)
      out.push_back({i, missed});
    e.next = e.def.next_slot(std::max(missed, now));
  }
  return out;
}

std::vector<firing> schedule_book::take_due(int64_t now) {
  std::vector<firing> out;
  for (size_t i = 0; i < entries_.size(); ++i) {
    auto& e = entries_[i];
    if (!e.next || *e.next > now)
      continue;
    auto slot = latest_due(e, now);
    out.push_back({i, slot});
    e.next = e.def.next_slot(std::max(slot, now));
  }
  return out;
}

void schedule_book::fired(size_t index, int64_t slot, const task_id& task) {
  auto& e = entries_[index];
  e.last_slot = std::max(e.last_slot, slot);
  if (task.hi != 0 || task.lo != 0)
    e.last_task = task;
}

std::optional<int64_t> schedule_book::earliest() const {
  std::optional<int64_t> out;
  for (auto& e : entries_)
    if (e.next && (!out || *e.next < *out))
      out = e.next;
  return out;
}

} // namespace actorq
