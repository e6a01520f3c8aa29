/* config.h: `isopool serve --config FILE`: the config file as command-line
 * options.
 *
 * The file is INI (read with libinih): `key = value` lines whose keys are
 * serve's long option names without the dashes, `#` or `;` comments,
 * blank lines, and optionally one `[serve]` section (any other section is
 * an error). An option that takes no value is `key = true` (or `false`,
 * which leaves it out); a repeatable one (`listen`) may appear on several
 * lines. Values are taken as they stand after trimming: no quoting. Each
 * line becomes one `--key=value` argument, in order; the command line's
 * options come after and replace the file's: a key given on the command
 * line drops every line of that key from the file.
 */
#ifndef ISO_CLI_CONFIG_H
#define ISO_CLI_CONFIG_H

#include <getopt.h>
#include <stddef.h>

/* The arguments a config file and a command line make. */
typedef struct conf_args {
  char** argv; /* argv[0] the command's, then the options; NULL-ended */
  int argc;
  char** owned; /* the strings made here (the file's), freed with it */
  int nowned;
} conf_args;

/* conf_load: reads path and makes args: argv0, the file's options (less
 * those the command line gives), then the command line's argc - 1
 * arguments after argv[0]. opts is the command's getopt table (which
 * names take a value); `config` and `help` may not appear in a file.
 * Returns 0, or -1 with what is wrong (the file and line) in err.
 * Thread: any. */
int conf_load(const char* path,
              const struct option* opts,
              int argc,
              char** argv,
              conf_args* out,
              char* err,
              size_t errlen);

/* conf_free: frees what conf_load made (argv's strings from the command
 * line are not its). Accepts a zeroed args. */
void conf_free(conf_args* args);

/* conf_option_of: the name of the long option the argument arg starts
 * (`--name`, `--name=value`, or a short `-c` that opts maps to a long
 * name), or NULL for one that names none (a value, `--`). *len is the
 * name's length. */
const char* conf_option_of(const char* arg,
                           const struct option* opts,
                           size_t* len);

#endif
