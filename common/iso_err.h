/* iso_err.h: isopool's error codes.
 *
 * Every isopool function that can fail returns int: 0 on success or one of
 * the negative ISO_E* codes below. One X-macro table generates the enum,
 * iso_strerror() and iso_err_name(), so a code, its name and its text never
 * drift apart. Rich detail (a JavaScript exception, a parse position) travels
 * in a separate caller-owned struct, never in the code.
 *
 * Other vocabularies are derived from this one by one table each, never by
 * a switch of their own: the job and admin protocols' wire codes
 * (iso_proto_code_from_err, ipc/iso_proto.c), poolctl's exit statuses
 * (cli/poolctl.c). An op's failure (ISO_EOP) carries its JavaScript error
 * class (ops/iso_ops.h: NotFound, TypeError, ...) in its iso_op_call, and
 * the class of an errno is one table too (ops/fs.c).
 */
#ifndef ISO_ERR_H
#define ISO_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, text) */
#define ISO_ERR_TABLE(X)                              \
  X(ISO_ENOMEM, -1, "out of memory")                  \
  X(ISO_EINVAL, -2, "invalid argument")               \
  X(ISO_EJS, -3, "JavaScript exception")              \
  X(ISO_ENOENT, -4, "no such file or module")         \
  X(ISO_EIO, -5, "input/output error")                \
  X(ISO_EPERM, -6, "outside the module root")         \
  X(ISO_ESYNTAX, -7, "syntax error")                  \
  X(ISO_ETYPE, -8, "value cannot be converted")       \
  X(ISO_ETERMINATED, -9, "execution terminated")      \
  X(ISO_ESTALL, -10, "evaluation stalled")            \
  X(ISO_EPROTO, -11, "malformed message")             \
  X(ISO_EBUSY, -12, "busy")                           \
  X(ISO_ETIMEDOUT, -13, "timed out")                  \
  X(ISO_ETOOBIG, -14, "message too large")            \
  X(ISO_ESHUTDOWN, -15, "shutting down")              \
  X(ISO_ECONNECT, -16, "cannot connect")              \
  X(ISO_ECLOSED, -17, "closed")                       \
  X(ISO_EINTERNAL, -18, "internal error")             \
  X(ISO_EUSAGE, -19, "bad usage")                     \
  X(ISO_ELOST, -20, "work lost")                      \
  X(ISO_ETRUNC, -21, "truncated message")             \
  X(ISO_EBADBYTE, -22, "invalid byte")                \
  X(ISO_ECOUNT, -23, "count larger than the message") \
  X(ISO_EOP, -24, "op failed")                        \
  X(ISO_ESANDBOX, -25, "sandbox unavailable")         \
  X(ISO_ECPULIMIT, -26, "CPU time limit exceeded")    \
  X(ISO_EHEAPLIMIT, -27, "heap limit reached")        \
  X(ISO_ENODELOST, -28, "node lost (the job may have run)")

enum iso_err {
#define ISO_ERR_ENUM(name, value, text) name = value,
  ISO_ERR_TABLE(ISO_ERR_ENUM)
#undef ISO_ERR_ENUM
};

/* iso_strerror: the text of an error code ("unknown error" for others).
 * Returns a static string. Thread: any. */
const char* iso_strerror(int err);

/* iso_err_name: the code's name without the ISO_ prefix ("EINVAL").
 * Returns a static string. Thread: any. */
const char* iso_err_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* ISO_ERR_H */
