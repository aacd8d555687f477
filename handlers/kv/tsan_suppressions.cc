// ThreadSanitizer cannot see how RocksDB synchronizes: Debian's librocksdb is built without
// TSan, and its writers and readers meet through atomics and spin loops that TSan does not
// instrument (the same blindness as Debian's prebuilt absl::Mutex, docs/DESIGN.md). It then
// reports races on the bytes our code hands to RocksDB (the key and value copied into a write
// batch by one writer while the group-commit leader reads them). Only stacks that pass through
// the kv handler's calls into RocksDB are suppressed, and races whose stacks are RocksDB's own
// (its background threads against its writers: seen once in CI, a std::unordered_set lookup in
// librocksdb against an allocation in librocksdb, with no frame of ours); everything else is
// still checked. TSan reads this function at start-up; other builds ignore it.
extern "C" const char* __tsan_default_suppressions() {
  return "race:handlers::KvStore::\n"
         "race:handlers::KvHandler::Handle\n"
         "race:librocksdb.so\n";
}
