/* test_config.c - the configuration schema, read as a table.
 *
 * Each row is a configuration text and what must come of it: either it is
 * accepted and some fields hold given values, or it is refused with a
 * message containing the given field path and problem. JSON is written with
 * single quotes to keep the rows readable; they become double quotes before
 * parsing. A second table walks every numeric field's range bounds, and a
 * third goes through config_load_file() for what only a file can get wrong.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

#define ORIGIN "cfg.json"
#define M      "{'name':'m','backend':'example'}"
/* One model with extra fields; fields must end with a comma. */
#define MODEL(fields)  "{'models':[{" fields "'name':'m','backend':'example'}]}"
#define SERVER(fields) "{'server':{" fields "},'models':[" M "]}"

#define MAX_EXPECT 12

typedef struct expect {
    const char *path; /* "server.port", "models[0].max_replicas", "n_models" */
    const char *value;
} expect_t;

typedef struct config_case {
    const char *name;
    const char *text;
    const char *error; /* NULL: must be accepted */
    expect_t expect[MAX_EXPECT];
} config_case_t;

#define ACCEPT(name_, text_, ...)                                                                  \
    {                                                                                              \
        .name = name_, .text = text_, .expect = { __VA_ARGS__ }                                    \
    }
#define REFUSE(name_, text_, error_)                                                               \
    {                                                                                              \
        .name = name_, .text = text_, .error = error_                                              \
    }

/* clang-format off */
static const config_case_t cases[] = {
    /* Defaults. */
    ACCEPT("server defaults", "{'models':[" M "]}",
        {"server.host", "127.0.0.1"}, {"server.port", "8000"},
        {"server.data_dir", "./inferd-data"}, {"server.max_body_bytes", "1048576"},
        {"server.max_header_bytes", "16384"}, {"server.header_timeout_ms", "10000"},
        {"server.body_timeout_ms", "30000"}, {"server.idle_timeout_ms", "60000"},
        {"server.shutdown_timeout_ms", "15000"}, {"server.max_pipelined", "32"},
        {"server.health_check_interval_ms", "5000"}, {"n_models", "1"}),
    ACCEPT("model defaults", "{'server':{},'models':[" M "]}",
        {"models[0].name", "m"}, {"models[0].backend", "example"},
        {"models[0].params", "{}"}, {"models[0].min_replicas", "0"},
        {"models[0].max_replicas", "3"}, {"models[0].always_loaded", "false"},
        {"models[0].max_queue_length", "100"}, {"models[0].cold_start_timeout_seconds", "60"},
        {"models[0].load_timeout_seconds", "60"}, {"models[0].max_text_length", "5000"},
        {"models[0].replica_concurrency", "1"}, {"models[0].initial_replicas", "0"}),
    ACCEPT("always_loaded raises the default min_replicas to 1", MODEL("'always_loaded':true,"),
        {"models[0].always_loaded", "true"}, {"models[0].min_replicas", "1"},
        {"models[0].initial_replicas", "1"}),
    ACCEPT("always_loaded raises min_replicas 0 to 1",
     MODEL("'always_loaded':true,'min_replicas':0,"),
        {"models[0].min_replicas", "1"}, {"models[0].initial_replicas", "1"}),
    ACCEPT("always_loaded with max_replicas 1", MODEL("'always_loaded':true,'max_replicas':1,"),
        {"models[0].max_replicas", "1"}, {"models[0].initial_replicas", "1"}),
    ACCEPT("min_replicas is the initial count", MODEL("'min_replicas':2,"),
        {"models[0].initial_replicas", "2"}),
    ACCEPT("min_replicas equal to max_replicas", MODEL("'min_replicas':4,'max_replicas':4,"),
        {"models[0].min_replicas", "4"}, {"models[0].max_replicas", "4"}),
    ACCEPT("seconds accept an integer", MODEL("'load_timeout_seconds':5,"),
        {"models[0].load_timeout_seconds", "5"}),
    ACCEPT("seconds accept a real", MODEL("'cold_start_timeout_seconds':2.5,"),
        {"models[0].cold_start_timeout_seconds", "2.5"}),
    ACCEPT("port 0 means any free port", SERVER("'port':0"), {"server.port", "0"}),
    ACCEPT("host and data_dir", SERVER("'host':'0.0.0.0','data_dir':'/var/lib/inferd'"),
        {"server.host", "0.0.0.0"}, {"server.data_dir", "/var/lib/inferd"}),
    ACCEPT("params are kept", "{'models':[{'name':'v','backend':'flite',"
                        "'params':{'voice':'cmu_us_awb'}}]}",
        {"models[0].params", "{\"voice\": \"cmu_us_awb\"}"}),
    ACCEPT("name of 63 characters", "{'models':[{'name':'"
     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
     "','backend':'example'}]}", {"n_models", "1"}),
    ACCEPT("name with every allowed punctuation",
        "{'models':[{'name':'a-b_c.d-1','backend':'example'}]}",
        {"models[0].name", "a-b_c.d-1"}),
    ACCEPT("several models keep their order",
     "{'models':[{'name':'a','backend':'example'},{'name':'b','backend':'espeak',"
     "'params':{'voice':'de'}},{'name':'c','backend':'synthetic','params':{'load_time_ms':0,"
     "'memory_mb':1,'cpu_ms_per_request':5,'fail_load':false}}]}",
        {"n_models", "3"}, {"models[0].name", "a"}, {"models[1].name", "b"},
        {"models[2].name", "c"}, {"models[2].backend", "synthetic"}),

    /* Document shape. */
    REFUSE("root is an array", "[" M "]", "cfg.json: (root): must be an object"),
    REFUSE("root is a string", "'models'", "(root): must be an object"),
    REFUSE("unknown root key", "{'models':[" M "],'modles':[]}",
     "cfg.json: modles: unknown field (expected one of: server, models)"),
    REFUSE("models missing", "{'server':{}}", "cfg.json: models: at least one model is required"),
    REFUSE("models empty", "{'models':[]}", "cfg.json: models: at least one model is required"),
    REFUSE("models is an object", "{'models':" M "}", "models: must be an array of model objects"),
    REFUSE("model is a string", "{'models':['m']}", "models[0]: must be an object (got a string)"),
    REFUSE("server is an array", "{'server':[],'models':[" M "]}",
     "server: must be an object (got an array)"),
    REFUSE("server is null", "{'server':null,'models':[" M "]}", "server: must be an object (got null)"),

    /* Unknown keys at each level. */
    REFUSE("unknown server key", SERVER("'prot':80"), "cfg.json: server.prot: unknown field"),
    REFUSE("unknown model key", MODEL("'max_replica':2,"), "cfg.json: models[0].max_replica: unknown field"),
    REFUSE("unknown key in a later model",
     "{'models':[" M ",{'name':'n','backend':'example','colour':'red'}]}",
     "models[1].colour: unknown field (expected one of: name, backend, params"),

    /* Wrong types. */
    REFUSE("integer given a real", MODEL("'max_replicas':2.5,"),
     "cfg.json: models[0].max_replicas: must be an integer between 1 and 10 (got 2.5)"),
    REFUSE("integer given a whole real", MODEL("'max_queue_length':2.0,"),
     "models[0].max_queue_length: must be an integer between 1 and 100000 (got 2.0)"),
    REFUSE("integer given a string", SERVER("'port':'8080'"),
     "server.port: must be an integer between 0 and 65535 (got a string)"),
    REFUSE("integer given a boolean", SERVER("'max_pipelined':true"),
     "server.max_pipelined: must be an integer between 1 and 1024 (got true)"),
    REFUSE("integer given null", MODEL("'replica_concurrency':null,"),
     "models[0].replica_concurrency: must be an integer between 1 and 64 (got null)"),
    REFUSE("seconds given a string", MODEL("'load_timeout_seconds':'5s',"),
     "models[0].load_timeout_seconds: must be a number of seconds between 0.1 and 3600 (got a string)"),
    REFUSE("boolean given a number", MODEL("'always_loaded':1,"),
     "models[0].always_loaded: must be true or false (got 1)"),
    REFUSE("boolean given a string", MODEL("'always_loaded':'yes',"),
     "models[0].always_loaded: must be true or false (got a string)"),
    REFUSE("string given a number", "{'models':[{'name':5,'backend':'example'}]}",
     "models[0].name: must be a string (got 5)"),
    REFUSE("host given an array", SERVER("'host':['a']"), "server.host: must be a string (got an array)"),
    REFUSE("params given an array", MODEL("'params':[],"),
     "models[0].params: must be an object (got an array)"),

    /* Required fields and string rules. */
    REFUSE("name missing", "{'models':[{'backend':'example'}]}", "cfg.json: models[0].name: is required"),
    REFUSE("backend missing", "{'models':[{'name':'m'}]}", "cfg.json: models[0].backend: is required"),
    REFUSE("empty name", "{'models':[{'name':'','backend':'example'}]}",
     "models[0].name: must be 1 to 63 characters"),
    REFUSE("name with a space", "{'models':[{'name':'my model','backend':'example'}]}",
     "models[0].name: must be 1 to 63 characters from A-Z, a-z, 0-9"),
    REFUSE("name with a slash", "{'models':[{'name':'a/b','backend':'example'}]}",
     "models[0].name: must be 1 to 63"),
    REFUSE("name of 64 characters", "{'models':[{'name':'"
     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_x"
     "','backend':'example'}]}", "models[0].name: must be 1 to 63"),
    REFUSE("empty host", SERVER("'host':''"), "cfg.json: server.host: must not be empty"),
    REFUSE("empty data_dir", SERVER("'data_dir':''"), "cfg.json: server.data_dir: must not be empty"),

    /* Cross-field and cross-model rules. */
    REFUSE("duplicate model names", "{'models':[" M ",{'name':'n','backend':'example'}," M "]}",
     "cfg.json: models[2].name: duplicate model name \"m\" (first defined at models[0])"),
    REFUSE("min_replicas above max_replicas", MODEL("'min_replicas':4,"),
     "cfg.json: models[0].min_replicas: must not exceed max_replicas (4 > 3)"),
    REFUSE("always_loaded with max_replicas 0", MODEL("'always_loaded':true,'max_replicas':0,"),
     "models[0].max_replicas: must be an integer between 1 and 10 (got 0)"),
    REFUSE("error in the third model names its index",
     "{'models':[{'name':'a','backend':'example'},{'name':'b','backend':'example'},"
     "{'name':'c','backend':'example','max_replicas':11}]}",
     "cfg.json: models[2].max_replicas: must be an integer between 1 and 10 (got 11)"),

    /* Backends and their parameters. */
    REFUSE("unknown backend", "{'models':[{'name':'m','backend':'nope'}]}",
     "cfg.json: models[0].backend: unknown backend \"nope\" "
     "(known: flite, espeak, example, synthetic)"),
    REFUSE("flite with an unknown voice",
     "{'models':[{'name':'m','backend':'flite','params':{'voice':'nope'}}]}",
     "cfg.json: models[0].params.voice: must be one of"),
    REFUSE("flite without a voice", "{'models':[{'name':'m','backend':'flite'}]}",
     "cfg.json: models[0].params.voice: "),
    REFUSE("espeak with an invalid voice",
     "{'models':[{'name':'m','backend':'espeak','params':{'voice':'en us'}}]}",
     "models[0].params.voice: must be"),
    REFUSE("example takes no params", MODEL("'params':{'x':1},"), "models[0].params.x: is not a parameter"),
    REFUSE("synthetic with an unknown key",
     "{'models':[" M ",{'name':'s','backend':'synthetic','params':{'bogus':1}}]}",
     "cfg.json: models[1].params.bogus: is not a parameter"),
    REFUSE("synthetic load_time_ms out of range",
     "{'models':[{'name':'s','backend':'synthetic','params':{'load_time_ms':3600001}}]}",
     "models[0].params.load_time_ms: must be"),
    REFUSE("synthetic fail_load not a boolean",
     "{'models':[{'name':'s','backend':'synthetic','params':{'fail_load':1}}]}",
     "models[0].params.fail_load: must be true or false"),
};

/* Every numeric field's range: the bounds are accepted, one step beyond is
 * refused. extra is any field another rule needs (min_replicas up to 10
 * needs a max_replicas to match). */
typedef struct bound_case {
    const char *section; /* "server" or "model" */
    const char *key;
    const char *extra;
    const char *lo, *hi;         /* accepted, as JSON and as read back */
    const char *below, *above;   /* refused */
    const char *range;           /* as the message states it */
} bound_case_t;

static const bound_case_t bounds[] = {
    {"server", "port", "", "0", "65535", "-1", "65536", "between 0 and 65535"},
    {"server", "max_body_bytes", "", "1024", "67108864", "1023", "67108865",
     "between 1024 and 67108864"},
    {"server", "max_header_bytes", "", "1024", "1048576", "1023", "1048577",
     "between 1024 and 1048576"},
    {"server", "header_timeout_ms", "", "100", "600000", "99", "600001", "between 100 and 600000"},
    {"server", "body_timeout_ms", "", "100", "600000", "99", "600001", "between 100 and 600000"},
    {"server", "idle_timeout_ms", "", "100", "3600000", "99", "3600001",
     "between 100 and 3600000"},
    {"server", "shutdown_timeout_ms", "", "0", "600000", "-1", "600001", "between 0 and 600000"},
    {"server", "max_pipelined", "", "1", "1024", "0", "1025", "between 1 and 1024"},
    {"server", "health_check_interval_ms", "", "100", "600000", "99", "600001",
     "between 100 and 600000"},
    {"model", "min_replicas", "'max_replicas':10,", "0", "10", "-1", "11", "between 0 and 10"},
    {"model", "max_replicas", "", "1", "10", "0", "11", "between 1 and 10"},
    {"model", "max_queue_length", "", "1", "100000", "0", "100001", "between 1 and 100000"},
    {"model", "cold_start_timeout_seconds", "", "0.1", "3600", "0.09", "3600.5",
     "between 0.1 and 3600"},
    {"model", "load_timeout_seconds", "", "0.1", "3600", "0", "3601", "between 0.1 and 3600"},
    {"model", "max_text_length", "", "1", "1000000", "0", "1000001", "between 1 and 1000000"},
    {"model", "replica_concurrency", "", "1", "64", "0", "65", "between 1 and 64"},
};
/* clang-format on */

#define N_ROWS(t) (sizeof(t) / sizeof((t)[0]))

/* Turns the rows' single quotes into JSON's double quotes and parses. */
static json_t *parse_text(const char *text)
{
    char *s = strdup(text);
    for (char *p = s; *p; p++) {
        if (*p == '\'')
            *p = '"';
    }
    json_error_t jerr;
    json_t *root = json_loads(s, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    cr_assert_not_null(root, "test text does not parse: %s: %s", jerr.text, s);
    free(s);
    return root;
}

/* Formats the field at path ("server.port", "models[1].name", ...) the way
 * the tables write expected values. Returns false for an unknown path. */
static bool read_field(const inferd_config_t *cfg, const char *path, char *buf, size_t len)
{
    const char *key;
    if (strcmp(path, "n_models") == 0) {
        snprintf(buf, len, "%zu", cfg->n_models);
        return true;
    }
    if (strncmp(path, "server.", 7) == 0) {
        const server_config_t *s = &cfg->server;
        key = path + 7;
#define FMT(f, spec)                                                                               \
    if (strcmp(key, #f) == 0) {                                                                    \
        snprintf(buf, len, spec, s->f);                                                            \
        return true;                                                                               \
    }
        FMT(host, "%s")
        FMT(port, "%d")
        FMT(data_dir, "%s")
        FMT(max_body_bytes, "%zu")
        FMT(max_header_bytes, "%zu")
        FMT(header_timeout_ms, "%u")
        FMT(body_timeout_ms, "%u")
        FMT(idle_timeout_ms, "%u")
        FMT(shutdown_timeout_ms, "%u")
        FMT(max_pipelined, "%u")
        FMT(health_check_interval_ms, "%u")
#undef FMT
        return false;
    }
    size_t i;
    int consumed = 0;
    if (sscanf(path, "models[%zu].%n", &i, &consumed) != 1 || consumed == 0 || i >= cfg->n_models)
        return false;
    const model_config_t *m = &cfg->models[i];
    key = path + consumed;
#define FMT(f, spec)                                                                               \
    if (strcmp(key, #f) == 0) {                                                                    \
        snprintf(buf, len, spec, m->f);                                                            \
        return true;                                                                               \
    }
    FMT(name, "%s")
    FMT(backend, "%s")
    FMT(min_replicas, "%d")
    FMT(max_replicas, "%d")
    FMT(max_queue_length, "%d")
    FMT(cold_start_timeout_seconds, "%g")
    FMT(load_timeout_seconds, "%g")
    FMT(max_text_length, "%d")
    FMT(replica_concurrency, "%d")
#undef FMT
    if (strcmp(key, "always_loaded") == 0) {
        snprintf(buf, len, "%s", m->always_loaded ? "true" : "false");
        return true;
    }
    if (strcmp(key, "initial_replicas") == 0) {
        snprintf(buf, len, "%d", config_initial_replicas(m));
        return true;
    }
    if (strcmp(key, "params") == 0) {
        char *dump = json_dumps(m->params, JSON_SORT_KEYS | JSON_ENCODE_ANY);
        snprintf(buf, len, "%s", dump ? dump : "(null)");
        free(dump);
        return true;
    }
    return false;
}

/* Runs one text; returns the configuration or NULL with the message in err. */
static inferd_config_t *run_text(const char *text, char *err, size_t errlen)
{
    json_t *root = parse_text(text);
    inferd_config_t *cfg = (inferd_config_t *)(uintptr_t)1; /* must be reset */
    err[0] = '\0';
    int rc = config_from_json(root, ORIGIN, &cfg, err, errlen);
    json_decref(root);
    if (rc == 0) {
        cr_assert_not_null(cfg);
        return cfg;
    }
    cr_expect_eq(rc, -1);
    cr_expect_null(cfg, "a refused configuration must not be returned");
    return NULL;
}

Test(config, table)
{
    for (size_t r = 0; r < N_ROWS(cases); r++) {
        const config_case_t *c = &cases[r];
        char err[512];
        inferd_config_t *cfg = run_text(c->text, err, sizeof(err));
        if (!c->error) {
            cr_expect_not_null(cfg, "[%s] refused: %s", c->name, err);
            if (!cfg)
                continue;
            for (size_t e = 0; e < MAX_EXPECT && c->expect[e].path; e++) {
                char got[1100]; /* room for the longest field, data_dir */
                cr_assert(read_field(cfg, c->expect[e].path, got, sizeof(got)),
                          "[%s] unknown path %s", c->name, c->expect[e].path);
                cr_expect_str_eq(got, c->expect[e].value, "[%s] %s is %s, expected %s", c->name,
                                 c->expect[e].path, got, c->expect[e].value);
            }
            config_free(cfg);
        } else {
            cr_expect_null(cfg, "[%s] accepted, expected: %s", c->name, c->error);
            config_free(cfg);
            cr_expect(strncmp(err, ORIGIN ": ", strlen(ORIGIN) + 2) == 0,
                      "[%s] message does not start with the origin: %s", c->name, err);
            cr_expect(strstr(err, c->error) != NULL, "[%s] message \"%s\" lacks \"%s\"", c->name,
                      err, c->error);
        }
    }
}

Test(config, range_bounds)
{
    for (size_t r = 0; r < N_ROWS(bounds); r++) {
        const bound_case_t *b = &bounds[r];
        const char *values[4] = {b->lo, b->hi, b->below, b->above};
        for (int k = 0; k < 4; k++) {
            char text[512], path[96], want[256], err[512], got[1100];
            if (strcmp(b->section, "server") == 0) {
                snprintf(text, sizeof(text), "{'server':{'%s':%s},'models':[" M "]}", b->key,
                         values[k]);
                snprintf(path, sizeof(path), "server.%s", b->key);
            } else {
                snprintf(text, sizeof(text),
                         "{'models':[{%s'%s':%s,'name':'m','backend':'example'}]}", b->extra,
                         b->key, values[k]);
                snprintf(path, sizeof(path), "models[0].%s", b->key);
            }
            inferd_config_t *cfg = run_text(text, err, sizeof(err));
            if (k < 2) {
                cr_expect_not_null(cfg, "%s = %s refused: %s", path, values[k], err);
                if (!cfg)
                    continue;
                cr_assert(read_field(cfg, path, got, sizeof(got)));
                cr_expect_str_eq(got, values[k], "%s = %s read back as %s", path, values[k], got);
                config_free(cfg);
            } else {
                cr_expect_null(cfg, "%s = %s accepted", path, values[k]);
                config_free(cfg);
                snprintf(want, sizeof(want), ORIGIN ": %s: must be ", path);
                cr_expect(strstr(err, want) == err, "%s = %s: message \"%s\" lacks \"%s\"", path,
                          values[k], err, want);
                snprintf(want, sizeof(want), "%s (got %s)", b->range, values[k]);
                cr_expect(strstr(err, want) != NULL, "%s = %s: message \"%s\" lacks \"%s\"", path,
                          values[k], err, want);
            }
        }
    }
}

/* What only a file can get wrong: syntax, duplicate keys, a missing file. */
typedef struct file_case {
    const char *name;
    const char *text;  /* NULL: the file does not exist */
    const char *error; /* after "FILE", NULL: accepted */
} file_case_t;

/* clang-format off */
static const file_case_t file_cases[] = {
    {"valid file", "{\"models\": [{\"name\": \"m\", \"backend\": \"example\"}]}\n", NULL},
    {"syntax error reports line and column",
     "{\n  \"models\": [\n    {\"name\": \"m\",, \"backend\": \"example\"}\n  ]\n}\n",
     ":3:18: "},
    {"unterminated document", "{\"models\": [\n", ":2:0: "},
    {"duplicate key", "{\"models\": [],\n \"models\": []}\n", ":2:9: duplicate object key"},
    {"empty file", "", ":1:0: "},
    {"semantic error names the file and field",
     "{\"models\": [{\"name\": \"m\", \"backend\": \"example\", \"max_replicas\": 11}]}\n",
     ": models[0].max_replicas: must be an integer between 1 and 10 (got 11)"},
    {"missing file", NULL, ": cannot open: No such file"},
};
/* clang-format on */

Test(config, files)
{
    const char *tmp = getenv("TMPDIR");
    for (size_t r = 0; r < N_ROWS(file_cases); r++) {
        const file_case_t *c = &file_cases[r];
        char path[512], err[1024], want[1024];
        snprintf(path, sizeof(path), "%s/inferd-test-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        int fd = mkstemp(path);
        cr_assert(fd >= 0, "mkstemp %s", path);
        if (c->text) {
            size_t n = strlen(c->text);
            cr_assert_eq(write(fd, c->text, n), (ssize_t)n);
        } else {
            unlink(path);
        }
        close(fd);

        inferd_config_t *cfg = (inferd_config_t *)(uintptr_t)1;
        err[0] = '\0';
        int rc = config_load_file(path, &cfg, err, sizeof(err));
        if (!c->error) {
            cr_expect_eq(rc, 0, "[%s] refused: %s", c->name, err);
            cr_expect_not_null(cfg);
            if (rc == 0)
                config_free(cfg);
        } else {
            cr_expect_eq(rc, -1, "[%s] accepted", c->name);
            cr_expect_null(cfg, "[%s]", c->name);
            snprintf(want, sizeof(want), "%s%s", path, c->error);
            cr_expect(strncmp(err, want, strlen(want)) == 0, "[%s] message \"%s\" lacks \"%s\"",
                      c->name, err, want);
        }
        if (c->text)
            unlink(path);
    }
}

Test(config, builtin_default)
{
    static const struct {
        const char *name, *backend, *params;
        bool always_loaded;
        int min, max, initial;
    } want[] = {
        {"example", "example", "{}", true, 1, 2, 1},
        {"tts-flite-slt", "flite", "{\"voice\": \"cmu_us_slt\"}", false, 0, 3, 0},
        {"tts-flite-kal16", "flite", "{\"voice\": \"cmu_us_kal16\"}", false, 0, 3, 0},
        {"tts-espeak-en", "espeak", "{\"voice\": \"en\"}", false, 0, 3, 0},
    };
    inferd_config_t *cfg = config_default();
    cr_assert_not_null(cfg);
    cr_assert_eq(cfg->n_models, N_ROWS(want));
    for (size_t i = 0; i < N_ROWS(want); i++) {
        const model_config_t *m = config_find_model(cfg, want[i].name);
        cr_assert_not_null(m, "model %s missing", want[i].name);
        cr_expect_eq(m, &cfg->models[i], "model %s out of order", want[i].name);
        cr_expect_str_eq(m->backend, want[i].backend);
        char *params = json_dumps(m->params, JSON_SORT_KEYS);
        cr_expect_str_eq(params, want[i].params, "model %s", want[i].name);
        free(params);
        cr_expect_eq(m->always_loaded, want[i].always_loaded, "model %s", want[i].name);
        cr_expect_eq(m->min_replicas, want[i].min, "model %s", want[i].name);
        cr_expect_eq(m->max_replicas, want[i].max, "model %s", want[i].name);
        cr_expect_eq(config_initial_replicas(m), want[i].initial, "model %s", want[i].name);
        cr_expect_eq(m->max_queue_length, 100);
        cr_expect_eq(m->replica_concurrency, 1);
    }
    cr_expect_str_eq(cfg->server.host, "127.0.0.1");
    cr_expect_eq(cfg->server.port, 8000);
    cr_expect_null(config_find_model(cfg, "nope"));
    cr_expect_null(config_find_model(cfg, "Example"));
    config_free(cfg);
}

/* A short or absent error buffer is truncated or skipped, never overrun. */
Test(config, small_error_buffer)
{
    json_t *root = parse_text(MODEL("'max_replicas':11,"));
    char err[9];
    memset(err, 'x', sizeof(err));
    inferd_config_t *cfg = NULL;
    cr_expect_eq(config_from_json(root, ORIGIN, &cfg, err, 8), -1);
    cr_expect_str_eq(err, "cfg.jso");
    cr_expect_eq(err[8], 'x');
    cr_expect_eq(config_from_json(root, ORIGIN, &cfg, NULL, 0), -1);
    cr_expect_null(cfg);
    json_decref(root);
    config_free(NULL);
}

/* The configuration owns a copy of params: the caller's document may go. */
Test(config, params_are_copied)
{
    json_t *root = parse_text("{'models':[{'name':'v','backend':'flite','params':{'voice':"
                              "'cmu_us_rms'}}]}");
    inferd_config_t *cfg = NULL;
    char err[256];
    cr_assert_eq(config_from_json(root, ORIGIN, &cfg, err, sizeof(err)), 0, "%s", err);
    json_t *orig = json_object_get(json_array_get(json_object_get(root, "models"), 0), "params");
    cr_expect_neq(cfg->models[0].params, orig);
    json_decref(root);
    cr_expect_str_eq(json_string_value(json_object_get(cfg->models[0].params, "voice")),
                     "cmu_us_rms");
    config_free(cfg);
}
