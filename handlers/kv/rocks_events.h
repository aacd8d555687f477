// What RocksDB says, routed to the server: its info log to glog (so it never writes a log file
// to the database's own, possibly full, disk) and its background errors to a flag kv reads.
//
//   auto events = std::make_shared<RocksEvents>();
//   options.info_log = events->logger();
//   options.listeners.push_back(events);
//   ...
//   if (events->writes_refused()) ...   // RocksDB is in a background error: writes fail
//
// Why the log: Debian's librocksdb keeps its assertions, and a LOG file whose write failed
// (ENOSPC) aborts the process on its next line (WritableFileWriter's
// AssertFalseAndGetStatusForPrevError); on a full disk that next line is the error report.
#ifndef HANDLERS_KV_ROCKS_EVENTS_H_
#define HANDLERS_KV_ROCKS_EVENTS_H_

#include <atomic>
#include <cstdarg>
#include <memory>

#include "handlers/handler.h"
#include "rocksdb/env.h"
#include "rocksdb/listener.h"

namespace handlers {

// RocksDB's log lines at WARN and above, as glog warnings and errors (INFO is dropped: RocksDB
// writes several lines per flush and a statistics dump every few minutes).
class RocksLogToGlog : public rocksdb::Logger {
 public:
  RocksLogToGlog() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;
  void Logv(rocksdb::InfoLogLevel level, const char* format, va_list ap) override;
};

class RocksEvents : public rocksdb::EventListener {
 public:
  // `writes_refused` (may be null) mirrors writes_refused() as 1 or 0.
  explicit RocksEvents(HandlerGauge* writes_refused = nullptr) : gauge_(writes_refused) {}

  const std::shared_ptr<rocksdb::Logger>& logger() const { return logger_; }

  // True from a background error (a failed write to the log, a failed flush) until RocksDB's
  // recovery from it ends well: meanwhile every write is refused.
  bool writes_refused() const { return refused_.load(std::memory_order_acquire); }

  void OnBackgroundError(rocksdb::BackgroundErrorReason reason, rocksdb::Status* error) override;
  void OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) override;

 private:
  void SetRefused(bool refused);

  HandlerGauge* const gauge_;
  const std::shared_ptr<rocksdb::Logger> logger_ = std::make_shared<RocksLogToGlog>();
  std::atomic<bool> refused_{false};
};

}  // namespace handlers

#endif  // HANDLERS_KV_ROCKS_EVENTS_H_
