// The addon's V8-specific calls (everything else in it is plain N-API):
// lowMemoryNotification(): V8's own "give memory back" (Isolate::LowMemoryNotification: full GCs
// that also shrink the young generation and release pooled pages), what its memory reducer does on
// idle timers. netevd runs with --no-memory-reducer (those timers wake an idle daemon dozens of
// times) and calls this once when it goes idle instead.
// setV8Flags(flags): V8::SetFlagsFromString, what node:v8's setFlagsFromString does; loading node:v8
// for that one call would keep about 0.3 MB of RSS (its module and the heap utilities it loads).
#include <node_api.h>
#include <v8.h>

#include <string>

extern "C" napi_value netevd_low_memory_notification(napi_env env, napi_callback_info info) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) isolate->LowMemoryNotification();
  return nullptr;
}

extern "C" napi_value netevd_set_v8_flags(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype t = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok ||
      t != napi_string) {
    napi_throw_type_error(env, nullptr, "setV8Flags(flags: string)");
    return nullptr;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], nullptr, 0, &len) != napi_ok) return nullptr;
  std::string flags(len + 1, '\0');
  if (napi_get_value_string_utf8(env, argv[0], flags.data(), flags.size(), &len) != napi_ok) return nullptr;
  flags.resize(len);
  v8::V8::SetFlagsFromString(flags.data(), len);
  return nullptr;
}
