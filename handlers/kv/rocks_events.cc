#include "handlers/kv/rocks_events.h"

#include <cstdio>

#include "glog/logging.h"

namespace handlers {
namespace {

std::string Format(const char* format, va_list ap) {
  char line[1024];
  const int n = std::vsnprintf(line, sizeof(line), format, ap);
  if (n < 0) return "(unformattable RocksDB log line)";
  return std::string(line, std::min<size_t>(static_cast<size_t>(n), sizeof(line) - 1));
}

}  // namespace

void RocksLogToGlog::Logv(const char* format, va_list ap) {
  LOG(WARNING) << "rocksdb: " << Format(format, ap);
}

void RocksLogToGlog::Logv(rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  if (level < GetInfoLogLevel()) return;
  const std::string line = Format(format, ap);
  if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
    LOG(ERROR) << "rocksdb: " << line;
  } else {
    LOG(WARNING) << "rocksdb: " << line;
  }
}

void RocksEvents::SetRefused(bool refused) {
  refused_.store(refused, std::memory_order_release);
  if (gauge_ != nullptr) gauge_->Set(refused ? 1 : 0);
}

void RocksEvents::OnBackgroundError(rocksdb::BackgroundErrorReason, rocksdb::Status* error) {
  if (error != nullptr && !error->ok()) {
    SetRefused(true);
    LOG(ERROR) << "kv: writes refused until RocksDB recovers: " << error->ToString();
  }
}

void RocksEvents::OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) {
  if (info.new_bg_error.ok()) {
    SetRefused(false);
    LOG(WARNING) << "kv: RocksDB recovered from '" << info.old_bg_error.ToString()
                 << "': writes accepted again";
  } else {
    LOG(ERROR) << "kv: RocksDB's recovery failed: " << info.new_bg_error.ToString();
  }
}

}  // namespace handlers
