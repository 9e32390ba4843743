// lowMemoryNotification(): V8's own "give memory back" (Isolate::LowMemoryNotification: full GCs
// that also shrink the young generation and release pooled pages), what its memory reducer does on
// idle timers. netevd runs with --no-memory-reducer (those timers wake an idle daemon dozens of
// times) and calls this once when it goes idle instead. The only V8-specific call in the addon.
#include <node_api.h>
#include <v8.h>

extern "C" napi_value netevd_low_memory_notification(napi_env env, napi_callback_info info) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) isolate->LowMemoryNotification();
  return nullptr;
}
