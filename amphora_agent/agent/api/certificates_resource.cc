#include "amphora_agent/agent/api/resources.h"
#include "amphora_agent/agent/certificate_store.h"

namespace pharos::agent::api {
namespace {

ApiResponse cert_error(const CertResult& r) {
  switch (r.errc) {
    case CertErrc::kBadId: return error_response(400, "invalid_id", r.message);
    case CertErrc::kBadPem: return error_response(400, "invalid_pem", r.message);
    case CertErrc::kKeyMismatch: return error_response(400, "key_mismatch", r.message);
    case CertErrc::kNotFound: return error_response(404, "not_found", r.message);
    case CertErrc::kIo:
    case CertErrc::kOk: break;
  }
  return error_response(500, "storage_error", r.message);
}

}  // namespace

ApiResponse put_certificate(const AgentContext& ctx, const ApiRequest& request) {
  if (request.content_type != "application/x-pem-file" && request.content_type != "text/plain") {
    return error_response(415, "unsupported_media_type",
                          "the body must be a PEM bundle (application/x-pem-file)");
  }
  const CertResult r = ctx.certificates->put(request.params.at("id"), request.body);
  if (r.errc != CertErrc::kOk) return cert_error(r);
  return json_response(200, {{"id", r.meta.id},
                             {"sha256", r.meta.sha256},
                             {"subject", r.meta.subject},
                             {"not_after", r.meta.not_after},
                             {"has_key", r.meta.has_key},
                             {"size_bytes", r.meta.size_bytes}});
}

ApiResponse delete_certificate(const AgentContext& ctx, const ApiRequest& request) {
  const CertResult r = ctx.certificates->remove(request.params.at("id"));
  if (r.errc != CertErrc::kOk) return cert_error(r);
  ApiResponse response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

}  // namespace pharos::agent::api
