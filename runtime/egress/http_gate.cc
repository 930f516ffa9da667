#include "runtime/egress/http_gate.h"

#include <strings.h>

#include <utility>

namespace mvm::runtime::egress {

namespace {

HttpGate* Self(http_parser* p) { return static_cast<HttpGate*>(p->data); }

}  // namespace

HttpGate::HttpGate(Checker checker) : checker_(std::move(checker)) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  settings_.on_message_begin = OnMessageBegin;
  settings_.on_url = OnUrl;
  settings_.on_header_field = OnHeaderField;
  settings_.on_header_value = OnHeaderValue;
  settings_.on_headers_complete = OnHeadersComplete;
  settings_.on_message_complete = OnMessageComplete;
}

int HttpGate::OnMessageBegin(http_parser* p) {
  HttpGate* g = Self(p);
  g->head_ = HttpRequestHead{};
  g->field_.clear();
  g->in_value_ = false;
  return 0;
}

int HttpGate::OnUrl(http_parser* p, const char* at, size_t n) {
  Self(p)->head_.target.append(at, n);
  return 0;
}

int HttpGate::OnHeaderField(http_parser* p, const char* at, size_t n) {
  HttpGate* g = Self(p);
  if (g->in_value_) {
    g->field_.clear();
    g->in_value_ = false;
  }
  g->field_.append(at, n);
  return 0;
}

int HttpGate::OnHeaderValue(http_parser* p, const char* at, size_t n) {
  HttpGate* g = Self(p);
  if (!g->in_value_) {
    g->in_value_ = true;
    if (::strcasecmp(g->field_.c_str(), "host") == 0) {
      ++g->head_.host_headers;
      g->head_.has_host = true;
      g->head_.host.clear();
    }
  }
  if (::strcasecmp(g->field_.c_str(), "host") == 0) {
    g->head_.host.append(at, n);
  }
  return 0;
}

int HttpGate::OnHeadersComplete(http_parser* p) {
  HttpGate* g = Self(p);
  g->head_.method = http_method_str(static_cast<http_method>(p->method));
  g->event_ = Event::kHeadersComplete;
  http_parser_pause(p, 1);
  return 0;
}

int HttpGate::OnMessageComplete(http_parser* p) {
  Self(p)->event_ = Event::kMessageComplete;
  http_parser_pause(p, 1);
  return 0;
}

HttpGate::Verdict HttpGate::Feed(std::string_view bytes) {
  Verdict v;
  if (done_) {
    v.denied = "the connection was already refused";
    return v;
  }
  // Where `held_` begins in the stream of this call: bytes held from before come first.
  const size_t earlier = held_.size();
  held_.append(bytes);
  size_t parsed = earlier;  // earlier bytes were parsed when they came
  size_t released = 0;      // of held_
  while (parsed < held_.size()) {
    event_ = Event::kNone;
    const size_t used =
        http_parser_execute(&parser_, &settings_, held_.data() + parsed, held_.size() - parsed);
    parsed += used;
    const http_errno error = HTTP_PARSER_ERRNO(&parser_);
    if (error == HPE_PAUSED) {
      http_parser_pause(&parser_, 0);
      if (event_ == Event::kHeadersComplete) {
        std::optional<std::string> refused;
        if (head_.host_headers > 1) {
          refused = "the request has " + std::to_string(head_.host_headers) + " Host headers";
        } else {
          refused = checker_(head_);
        }
        if (refused) {
          done_ = true;
          v.denied = std::move(refused);
          v.forward = held_.substr(0, released);
          held_.clear();
          return v;
        }
        in_body_ = true;
        released = parsed;
      } else if (event_ == Event::kMessageComplete) {
        in_body_ = false;
        released = parsed;
        if (parser_.upgrade != 0) {
          // CONNECT or Upgrade: the parser stops at the end of this request; what follows is the
          // tunnel's.
          done_ = true;
          v.tunnel = true;
          v.tunnel_at = parsed;
          v.forward = std::move(held_);
          held_.clear();
          return v;
        }
      }
      continue;
    }
    if (error != HPE_OK) {
      done_ = true;
      v.denied = std::string("not an HTTP/1.x request: ") + http_errno_description(error);
      v.forward = held_.substr(0, released);
      held_.clear();
      return v;
    }
    if (in_body_) {
      released = parsed;  // body bytes of a checked request
    }
    break;
  }
  v.forward = held_.substr(0, released);
  held_.erase(0, released);
  return v;
}

}  // namespace mvm::runtime::egress
