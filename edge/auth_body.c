/* edge/auth_body.c — see auth_body.h. */
#include "edge/auth_body.h"

#include <jansson.h>
#include <string.h>

static bool s_copy(json_t *j, const char *name, char *out, size_t cap)
{
    json_t *v = json_object_get(j, name);
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v)) /* no NUL inside */
        return false;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static const char *s_fields(auth_op_t op, json_t *j, auth_body_t *out)
{
    if (op == AUTH_REFRESH)
        return s_copy(j, "refresh_token", out->refresh, sizeof out->refresh) && out->refresh[0]
                   ? NULL
                   : "refresh_token";
    if (!s_copy(j, "phone", out->phone, sizeof out->phone) ||
        !phone_valid(out->phone, strlen(out->phone)))
        return "phone";
    if (op == AUTH_OTP_REQUEST)
        return NULL;
    if (!s_copy(j, "code", out->code, sizeof out->code) || strlen(out->code) != 6 ||
        strspn(out->code, "0123456789") != 6)
        return "code";
    if (!s_copy(j, "device", out->device, sizeof out->device) ||
        !device_valid(out->device, strlen(out->device)))
        return "device";
    return NULL;
}

int auth_body_parse(auth_op_t op, const char *body, size_t len, auth_body_t *out, const char **bad)
{
    memset(out, 0, sizeof *out);
    json_error_t err;
    json_t *j = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &err) : NULL;
    *bad = json_is_object(j) ? s_fields(op, j, out) : "body";
    json_decref(j);
    return *bad ? -1 : 0;
}
