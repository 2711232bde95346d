/* test_config.c - the configuration schema, read as a table.
 *
 * Each row is a configuration text and what must come of it: either it is
 * accepted and some fields hold given values, or it is refused with a
 * message containing the given field path and problem. JSON is written with
 * single quotes to keep the rows readable; they become double quotes before
 * parsing. A second table walks every numeric field's range bounds, and a
 * third goes through config_load_file() for what only a file can get wrong.
 *
 * The autoscaler section has tables of its own, over
 * config_autoscaler_merge() (shared by the file and POST
 * /autoscaler/config): its defaults, every field's bounds, every problem a
 * document can have (with the field, range and value reported), the
 * mirrored pairs, and to_json/diff.
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
/* An autoscaler section and one plain model. */
#define AUTOSCALER(fields) "{'autoscaler':{" fields "},'models':[" M "]}"

#define MAX_EXPECT 20

typedef struct expect {
    /* "server.port", "models[0].max_replicas", "n_models",
     * "autoscaler.thresholds.cpu_threshold", and the computed
     * "models[0].initial_replicas()" and "models[0].floor_replicas()" */
    const char *path;
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
        {"models[0].max_replicas", "5"}, {"models[0].always_loaded", "false"},
        {"models[0].max_queue_length", "100"}, {"models[0].cold_start_timeout_seconds", "60"},
        {"models[0].load_timeout_seconds", "60"}, {"models[0].max_text_length", "5000"},
        {"models[0].replica_concurrency", "1"}, {"models[0].initial_replicas", "-1"},
        {"models[0].target_concurrency", "0"}, {"models[0].memory_mb", "0"},
        {"models[0].request_timeout_seconds", "300"},
        {"models[0].initial_replicas()", "1"}, {"models[0].floor_replicas()", "0"}),
    ACCEPT("always_loaded raises the default min_replicas to 1", MODEL("'always_loaded':true,"),
        {"models[0].always_loaded", "true"}, {"models[0].min_replicas", "1"},
        {"models[0].initial_replicas()", "1"}, {"models[0].floor_replicas()", "1"}),
    ACCEPT("always_loaded raises min_replicas 0 to 1",
     MODEL("'always_loaded':true,'min_replicas':0,"),
        {"models[0].min_replicas", "1"}, {"models[0].initial_replicas()", "1"}),
    ACCEPT("always_loaded with max_replicas 1", MODEL("'always_loaded':true,'max_replicas':1,"),
        {"models[0].max_replicas", "1"}, {"models[0].initial_replicas()", "1"}),
    ACCEPT("min_replicas lifts the initial count", MODEL("'min_replicas':2,"),
        {"models[0].initial_replicas()", "2"}, {"models[0].floor_replicas()", "2"}),
    ACCEPT("initial_replicas 0 cold-starts", MODEL("'initial_replicas':0,"),
        {"models[0].initial_replicas", "0"}, {"models[0].initial_replicas()", "0"}),
    ACCEPT("target_concurrency and memory_mb", MODEL("'target_concurrency':2.5,'memory_mb':512,"),
        {"models[0].target_concurrency", "2.5"}, {"models[0].memory_mb", "512"}),
    ACCEPT("target_concurrency 0 inherits", MODEL("'target_concurrency':0,"),
        {"models[0].target_concurrency", "0"}),
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
     "cfg.json: modles: unknown field (expected one of: server, autoscaler, models)"),
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
    REFUSE("min_replicas above max_replicas", MODEL("'min_replicas':4,'max_replicas':3,"),
     "cfg.json: models[0].min_replicas: must not exceed max_replicas (4 > 3)"),
    REFUSE("min_replicas above the inherited max_replicas", MODEL("'min_replicas':6,"),
     "cfg.json: models[0].min_replicas: must not exceed max_replicas (6 > 5), which comes from "
     "autoscaler.replicas.max_replicas"),
    REFUSE("max_replicas below the inherited min_replicas",
     "{'autoscaler':{'replicas':{'min_replicas':2,'default_replicas':2}},'models':[{'max_replicas':1,"
     "'name':'m','backend':'example'}]}",
     "cfg.json: models[0].max_replicas: must not be below min_replicas (1 < 2), which comes from "
     "autoscaler.replicas.min_replicas"),
    REFUSE("target_concurrency between 0 and 0.1", MODEL("'target_concurrency':0.05,"),
     "cfg.json: models[0].target_concurrency: must be 0 (inherit the autoscaler's value) or a "
     "number between 0.1 and 1000 (got 0.05)"),
    REFUSE("initial_replicas -1 is not written", MODEL("'initial_replicas':-1,"),
     "cfg.json: models[0].initial_replicas: must be an integer between 0 and 10 (got -1)"),

    /* The autoscaler section: read before the models, which inherit from it. */
    ACCEPT("autoscaler defaults without the section", "{'models':[" M "]}",
        {"autoscaler.enabled", "true"}, {"autoscaler.scaling_strategy", "reactive"},
        {"autoscaler.replicas.max_replicas", "5"},
        {"autoscaler.timing.decision_interval_seconds", "2"},
        {"autoscaler.timing.metrics_collection_interval_seconds", "1"},
        {"autoscaler.advanced.external_metrics_webhook", "null"}),
    ACCEPT("autoscaler section is merged over the defaults",
     AUTOSCALER("'zero_scaling_enabled':false,'thresholds':{'cpu_threshold':75.5},"
                "'advanced':{'external_metrics_webhook':'http://127.0.0.1:9000/events'}"),
        {"autoscaler.zero_scaling_enabled", "false"},
        {"autoscaler.thresholds.cpu_threshold", "75.5"},
        {"autoscaler.thresholds.memory_threshold", "80"},
        {"autoscaler.advanced.external_metrics_webhook", "http://127.0.0.1:9000/events"}),
    ACCEPT("empty autoscaler section", AUTOSCALER(""), {"autoscaler.enabled", "true"}),
    ACCEPT("models inherit the autoscaler's replica bounds",
     AUTOSCALER("'replicas':{'min_replicas':1,'max_replicas':4,'default_replicas':2}"),
        {"models[0].min_replicas", "1"}, {"models[0].max_replicas", "4"},
        {"models[0].initial_replicas()", "2"}, {"models[0].floor_replicas()", "1"}),
    ACCEPT("a model's own bounds win over the autoscaler's",
     "{'autoscaler':{'replicas':{'min_replicas':1,'max_replicas':4}},'models':[{"
     "'min_replicas':0,'max_replicas':8,'name':'m','backend':'example'}]}",
        {"models[0].min_replicas", "0"}, {"models[0].max_replicas", "8"}),
    ACCEPT("models inherit the autoscaler's cold-start timeout",
     "{'autoscaler':{'cold_start_timeout_seconds':7.5},'models':[" M ",{"
     "'cold_start_timeout_seconds':3,'name':'n','backend':'example'}]}",
        {"models[0].cold_start_timeout_seconds", "7.5"},
        {"models[1].cold_start_timeout_seconds", "3"}),
    ACCEPT("models without the autoscaler's cold-start timeout wait 60 s",
     "{'models':[" M "]}", {"models[0].cold_start_timeout_seconds", "60"}),
    REFUSE("the autoscaler's cold-start timeout has a range",
     AUTOSCALER("'cold_start_timeout_seconds':0"),
     "cfg.json: autoscaler.cold_start_timeout_seconds: must be a number of seconds between 0.1 "
     "and 3600 (got 0)"),
    REFUSE("models are not a field of the autoscaler section in a file",
     AUTOSCALER("'models':{}"), "cfg.json: autoscaler.models: unknown field"),
    ACCEPT("default_replicas is clamped to a model's max_replicas",
     "{'autoscaler':{'replicas':{'default_replicas':4}},'models':[{"
     "'max_replicas':2,'name':'m','backend':'example'}]}",
        {"models[0].initial_replicas()", "2"}),
    ACCEPT("predictive_scaling alone in a file makes it hybrid",
     AUTOSCALER("'advanced':{'predictive_scaling':true}"),
        {"autoscaler.scaling_strategy", "hybrid"}, {"autoscaler.advanced.predictive_scaling", "true"}),
    REFUSE("autoscaler field out of range",
     AUTOSCALER("'thresholds':{'cpu_threshold':150}"),
     "cfg.json: autoscaler.thresholds.cpu_threshold: must be a number between 1 and 100 (got 150)"),
    REFUSE("autoscaler is not an object", "{'autoscaler':5,'models':[" M "]}",
     "cfg.json: autoscaler: must be an object with any of: enabled, zero_scaling_enabled, "),
    REFUSE("autoscaler section is not an object", AUTOSCALER("'timing':[]"),
     "cfg.json: autoscaler.timing: must be an object (got an array)"),
    REFUSE("unknown autoscaler field", AUTOSCALER("'thresholds':{'cpu':70}"),
     "cfg.json: autoscaler.thresholds.cpu: unknown field (expected one of: cpu_threshold, "
     "memory_threshold, gpu_threshold, queue_length_threshold, response_time_threshold_ms)"),
    REFUSE("unknown strategy in a file", AUTOSCALER("'scaling_strategy':'fast'"),
     "cfg.json: autoscaler.scaling_strategy: must be one of \"reactive\", \"predictive\", "
     "\"hybrid\" (got \"fast\")"),
    REFUSE("https webhook in a file",
     AUTOSCALER("'advanced':{'external_metrics_webhook':'https://hooks.example.com/x'}"),
     "cfg.json: autoscaler.advanced.external_metrics_webhook: only http:// URLs are supported"),
    REFUSE("autoscaler cross-field rule in a file",
     AUTOSCALER("'replicas':{'min_replicas':4,'max_replicas':3}"),
     "cfg.json: autoscaler.replicas.min_replicas: must not exceed replicas.max_replicas (4 > 3)"),
    REFUSE("a file reports its first autoscaler problem",
     AUTOSCALER("'timing':{'decision_interval_seconds':0},'enabled':'yes'"),
     "cfg.json: autoscaler.timing.decision_interval_seconds: must be a number of seconds "
     "between 0.1 and 3600 (got 0)"),
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
    {"model", "initial_replicas", "", "0", "10", "-1", "11", "between 0 and 10"},
    {"model", "target_concurrency", "", "0.1", "1000", "0.09", "1000.5",
     "or a number between 0.1 and 1000"},
    {"model", "memory_mb", "", "0", "1048576", "-0.5", "1048577", "between 0 and 1048576"},
    {"model", "request_timeout_seconds", "", "0.1", "86400", "0.05", "86400.5",
     "between 0.1 and 86400"},
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

/* The value at a dotted path ("thresholds.cpu_threshold") of a JSON
 * document, or NULL. Borrowed. */
static json_t *json_at(json_t *root, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *v = root;
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); part && v;
         part = strtok_r(NULL, ".", &save))
        v = json_object_get(v, part);
    return v;
}

/* Sets the value at a dotted path, creating the objects on the way. Steals
 * value. */
static void json_set_at(json_t *root, const char *path, json_t *value)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    char *dot = strchr(buf, '.');
    if (!dot) {
        json_object_set_new(root, buf, value);
        return;
    }
    *dot = '\0';
    json_t *section = json_object_get(root, buf);
    if (!section) {
        section = json_object();
        json_object_set_new(root, buf, section);
    }
    json_object_set_new(section, dot + 1, value);
}

/* A JSON value the way the tables write it: strings bare, numbers as
 * written ("0.1", not "0.10000000000000001"). */
static void format_json(const json_t *v, char *buf, size_t len)
{
    if (json_is_string(v)) {
        snprintf(buf, len, "%s", json_string_value(v));
        return;
    }
    char *dump = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    snprintf(buf, len, "%s", dump ? dump : "(null)");
    free(dump);
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
    if (strncmp(path, "autoscaler.", 11) == 0) {
        json_t *doc = config_autoscaler_to_json(&cfg->autoscaler);
        json_t *v = json_at(doc, path + 11);
        if (v)
            format_json(v, buf, len);
        json_decref(doc);
        return v != NULL;
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
    FMT(cold_start_timeout_seconds, "%.10g")
    FMT(load_timeout_seconds, "%.10g")
    FMT(max_text_length, "%d")
    FMT(replica_concurrency, "%d")
    FMT(initial_replicas, "%d")
    FMT(target_concurrency, "%.10g")
    FMT(memory_mb, "%.10g")
    FMT(request_timeout_seconds, "%.10g")
#undef FMT
    if (strcmp(key, "always_loaded") == 0) {
        snprintf(buf, len, "%s", m->always_loaded ? "true" : "false");
        return true;
    }
    if (strcmp(key, "initial_replicas()") == 0) {
        snprintf(buf, len, "%d", config_initial_replicas(cfg, m));
        return true;
    }
    if (strcmp(key, "floor_replicas()") == 0) {
        snprintf(buf, len, "%d", config_floor_replicas(m));
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
    {"autoscaler section", "{\"autoscaler\": {\"enabled\": false},\n"
     " \"models\": [{\"name\": \"m\", \"backend\": \"example\"}]}\n", NULL},
    {"bad autoscaler field stops start-up",
     "{\"autoscaler\": {\"thresholds\": {\"cpu_threshold\": 150}},\n"
     " \"models\": [{\"name\": \"m\", \"backend\": \"example\"}]}\n",
     ": autoscaler.thresholds.cpu_threshold: must be a number between 1 and 100 (got 150)"},
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
        cr_expect_eq(config_initial_replicas(cfg, m), want[i].initial, "model %s", want[i].name);
        cr_expect_eq(m->max_queue_length, 100);
        cr_expect_eq(m->replica_concurrency, 1);
    }
    cr_expect_eq(cfg->models[0].initial_replicas, -1, "example takes default_replicas");
    for (size_t i = 1; i < N_ROWS(want); i++)
        cr_expect_eq(cfg->models[i].initial_replicas, 0, "model %s", want[i].name);
    autoscaler_config_t defaults;
    config_autoscaler_defaults(&defaults);
    json_t *diff = config_autoscaler_diff(&defaults, &cfg->autoscaler);
    cr_expect_eq(json_array_size(diff), 0, "the built-in autoscaler section is the defaults");
    json_decref(diff);
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

/* ---- config_initial_replicas / config_floor_replicas ---- */

typedef struct initial_case {
    const char *name;
    const char *autoscaler; /* fields of the autoscaler section */
    const char *model;      /* fields of the model, each ending with a comma */
    int initial, floor;
} initial_case_t;

/* clang-format off */
static const initial_case_t initial_cases[] = {
    {"default_replicas by default", "", "", 1, 0},
    {"default_replicas 0", "'replicas':{'default_replicas':0}", "", 0, 0},
    {"default_replicas capped by the model's max",
     "'replicas':{'default_replicas':3}", "'max_replicas':2,", 2, 0},
    {"default_replicas lifted to the model's min", "", "'min_replicas':2,", 2, 2},
    {"initial_replicas 0 cold-starts", "", "'initial_replicas':0,", 0, 0},
    {"initial_replicas wins over default_replicas",
     "'replicas':{'default_replicas':3}", "'initial_replicas':1,", 1, 0},
    {"initial_replicas capped by max", "", "'initial_replicas':4,'max_replicas':3,", 3, 0},
    {"initial_replicas lifted to min", "", "'initial_replicas':0,'min_replicas':2,", 2, 2},
    {"pinned model never starts at 0", "", "'initial_replicas':0,'always_loaded':true,", 1, 1},
    {"pinned model with default_replicas 0",
     "'replicas':{'default_replicas':0}", "'always_loaded':true,", 1, 1},
    {"inherited min_replicas is the floor",
     "'replicas':{'min_replicas':1,'default_replicas':1}", "'initial_replicas':0,", 1, 1},
    {"initial_replicas at the limit", "'replicas':{'max_replicas':10}",
     "'initial_replicas':10,", 10, 0},
};
/* clang-format on */

Test(config, initial_replicas)
{
    for (size_t r = 0; r < N_ROWS(initial_cases); r++) {
        const initial_case_t *c = &initial_cases[r];
        char text[512], err[512];
        snprintf(text, sizeof(text),
                 "{'autoscaler':{%s},'models':[{%s'name':'m','backend':'example'}]}", c->autoscaler,
                 c->model);
        inferd_config_t *cfg = run_text(text, err, sizeof(err));
        cr_expect_not_null(cfg, "[%s] refused: %s", c->name, err);
        if (!cfg)
            continue;
        cr_expect_eq(config_initial_replicas(cfg, &cfg->models[0]), c->initial,
                     "[%s] initial %d, expected %d", c->name,
                     config_initial_replicas(cfg, &cfg->models[0]), c->initial);
        cr_expect_eq(config_floor_replicas(&cfg->models[0]), c->floor, "[%s] floor", c->name);
        config_free(cfg);
    }

    /* A hand-built model: pinned counts even when min_replicas says 0. */
    model_config_t m = {
        .min_replicas = 0, .max_replicas = 3, .always_loaded = true, .initial_replicas = 0};
    cr_expect_eq(config_floor_replicas(&m), 1);
    m.always_loaded = false;
    cr_expect_eq(config_floor_replicas(&m), 0);
}

/* ---- the autoscaler section: config_autoscaler_merge and friends ---- */

/* Merges a single-quoted text onto base. */
static int merge_text(const autoscaler_config_t *base, const char *text, autoscaler_config_t *out,
                      config_problems_t *problems)
{
    json_t *doc = parse_text(text);
    int rc = config_autoscaler_merge(base, doc, out, problems);
    json_decref(doc);
    return rc;
}

/* The defaults with a text merged on (NULL: the defaults). */
static void base_from(const char *text, autoscaler_config_t *out)
{
    config_autoscaler_defaults(out);
    if (!text)
        return;
    config_problems_t p;
    int rc = merge_text(out, text, out, &p);
    cr_assert_eq(rc, 0, "base %s refused: %s: %s", text, p.count ? p.items[0].field : "",
                 p.count ? p.items[0].message : "");
}

static void expect_same(const autoscaler_config_t *a, const autoscaler_config_t *b,
                        const char *what)
{
    json_t *diff = config_autoscaler_diff(a, b);
    char *dump = json_dumps(diff, JSON_COMPACT);
    cr_expect_eq(json_array_size(diff), 0, "%s: differs in %s", what, dump);
    free(dump);
    json_decref(diff);
}

/* The defaults as a document, in order: the spec's GET /autoscaler/config
 * values except the two intervals, then the three sections the spec lacks. */
static const char defaults_text[] =
    "{'enabled':true,'zero_scaling_enabled':true,'scaling_strategy':'reactive',"
    "'replicas':{'min_replicas':0,'max_replicas':5,'default_replicas':1},"
    "'thresholds':{'cpu_threshold':70,'memory_threshold':80,'gpu_threshold':85,"
    "'queue_length_threshold':10,'response_time_threshold_ms':2000},"
    "'cooldowns':{'scale_up_cooldown_seconds':60,'scale_down_cooldown_seconds':300,"
    "'zero_scale_cooldown_seconds':900},"
    "'timing':{'metrics_collection_interval_seconds':1,'decision_interval_seconds':2,"
    "'health_check_interval_seconds':60},"
    "'model_management':{'auto_unload_unused_models':true,'model_idle_timeout_minutes':15,"
    "'preload_popular_models':true,'max_concurrent_model_loads':2},"
    "'advanced':{'predictive_scaling':false,'custom_metrics_enabled':false,"
    "'external_metrics_webhook':null,'scaling_notifications_enabled':true},"
    "'scale_down_threshold':{'cpu_percent':20,'memory_percent':30,'idle_time_minutes':5},"
    "'zero_scale_threshold':{'idle_time_minutes':15,'no_requests_minutes':10},"
    "'cold_start_timeout_seconds':60,"
    "'reactive':{'target_concurrency':1,'stable_window_seconds':60,'panic_window_seconds':6,"
    "'panic_threshold':2}}";

Test(autoscaler, defaults)
{
    autoscaler_config_t d;
    config_autoscaler_defaults(&d);
    json_t *got = config_autoscaler_to_json(&d);
    json_t *want = parse_text(defaults_text);
    char *g = json_dumps(got, JSON_COMPACT), *w = json_dumps(want, JSON_COMPACT);
    /* Compared as text: the order of keys is part of the shape. */
    cr_expect_str_eq(g, w);
    free(g);
    free(w);
    json_decref(got);
    json_decref(want);

    cr_expect_eq(d.enabled, true);
    cr_expect_eq(d.scaling_strategy, STRATEGY_REACTIVE);
    cr_expect_eq(d.replicas.max_replicas, 5);
    cr_expect_eq(d.timing.decision_interval_seconds, 2);
    cr_expect_eq(d.timing.metrics_collection_interval_seconds, 1);
    cr_expect_eq(d.advanced.external_metrics_webhook[0], '\0');
    cr_expect_eq(d.model_management.model_idle_timeout_minutes,
                 d.zero_scale_threshold.idle_time_minutes);

    /* An empty document changes nothing. */
    autoscaler_config_t out;
    config_problems_t p;
    cr_expect_eq(merge_text(&d, "{}", &out, &p), 0);
    cr_expect_eq(p.count, 0);
    expect_same(&d, &out, "{} over the defaults");
}

/* Every field's range: the bounds are accepted and read back, one step
 * beyond is refused with exactly one problem naming the field and range.
 * extra is what a cross-field rule needs for the bounds to be reachable. */
typedef struct as_bound_case {
    const char *path;
    const char *extra; /* a document, or NULL */
    const char *lo, *hi, *below, *above;
    const char *message; /* part of the message */
    const char *valid_range;
} as_bound_case_t;

/* clang-format off */
static const as_bound_case_t as_bounds[] = {
    {"replicas.min_replicas", "{'replicas':{'max_replicas':10,'default_replicas':10}}",
     "0", "10", "-1", "11", "must be an integer between 0 and 10", "0-10"},
    {"replicas.max_replicas", NULL, "1", "10", "0", "11", "must be an integer between 1 and 10", "1-10"},
    {"replicas.default_replicas", "{'replicas':{'max_replicas':10}}",
     "0", "10", "-1", "11", "must be an integer between 0 and 10", "0-10"},
    {"thresholds.cpu_threshold", "{'scale_down_threshold':{'cpu_percent':0}}",
     "1", "100", "0.9", "100.1", "must be a number between 1 and 100", "1-100"},
    {"thresholds.memory_threshold", "{'scale_down_threshold':{'memory_percent':0}}",
     "1", "100", "0.9", "100.1", "must be a number between 1 and 100", "1-100"},
    {"thresholds.gpu_threshold", NULL, "1", "100", "0", "101",
     "must be a number between 1 and 100", "1-100"},
    {"thresholds.queue_length_threshold", NULL, "1", "100000", "0", "100001",
     "must be an integer between 1 and 100000", "1-100000"},
    {"thresholds.response_time_threshold_ms", NULL, "1", "3600000", "0.5", "3600001",
     "must be a number between 1 and 3600000", "1-3600000"},
    {"cooldowns.scale_up_cooldown_seconds", NULL, "0", "86400", "-0.001", "86400.5",
     "must be a number of seconds between 0 and 86400", "0-86400"},
    {"cooldowns.scale_down_cooldown_seconds", NULL, "0", "86400", "-1", "86401",
     "must be a number of seconds between 0 and 86400", "0-86400"},
    {"cooldowns.zero_scale_cooldown_seconds", NULL, "0", "86400", "-1", "86401",
     "must be a number of seconds between 0 and 86400", "0-86400"},
    {"timing.metrics_collection_interval_seconds", NULL, "0.1", "3600", "0.09", "3601",
     "must be a number of seconds between 0.1 and 3600", "0.1-3600"},
    {"timing.decision_interval_seconds", NULL, "0.1", "3600", "0", "3600.5",
     "must be a number of seconds between 0.1 and 3600", "0.1-3600"},
    {"timing.health_check_interval_seconds", NULL, "1", "3600", "0.9", "3601",
     "must be a number of seconds between 1 and 3600", "1-3600"},
    {"model_management.model_idle_timeout_minutes", NULL, "0", "10080", "-0.5", "10081",
     "must be a number between 0 and 10080", "0-10080"},
    {"model_management.max_concurrent_model_loads", NULL, "1", "10", "0", "11",
     "must be an integer between 1 and 10", "1-10"},
    {"scale_down_threshold.cpu_percent", "{'thresholds':{'cpu_threshold':100}}",
     "0", "99.99", "-0.1", "100.5", "must be a number between 0 and 100", "0-100"},
    {"scale_down_threshold.memory_percent", "{'thresholds':{'memory_threshold':100}}",
     "0", "99.99", "-0.1", "100.5", "must be a number between 0 and 100", "0-100"},
    {"scale_down_threshold.idle_time_minutes", NULL, "0", "1440", "-1", "1441",
     "must be a number between 0 and 1440", "0-1440"},
    {"zero_scale_threshold.idle_time_minutes", NULL, "0", "10080", "-1", "10080.5",
     "must be a number between 0 and 10080", "0-10080"},
    {"zero_scale_threshold.no_requests_minutes", NULL, "0", "10080", "-1", "10081",
     "must be a number between 0 and 10080", "0-10080"},
    {"cold_start_timeout_seconds", NULL, "0.1", "3600", "0.05", "3600.5",
     "must be a number of seconds between 0.1 and 3600", "0.1-3600"},
    {"reactive.target_concurrency", NULL, "0.1", "1000", "0.09", "1000.5",
     "must be a number between 0.1 and 1000", "0.1-1000"},
    {"reactive.stable_window_seconds", "{'reactive':{'panic_window_seconds':1}}",
     "1", "3600", "0.5", "3601", "must be a number of seconds between 1 and 3600", "1-3600"},
    {"reactive.panic_window_seconds", "{'reactive':{'stable_window_seconds':3600}}",
     "1", "3600", "0.99", "3601", "must be a number of seconds between 1 and 3600", "1-3600"},
    {"reactive.panic_threshold", NULL, "1.1", "10", "1.05", "10.5",
     "must be a number between 1.1 and 10", "1.1-10"},
};
/* clang-format on */

Test(autoscaler, range_bounds)
{
    for (size_t r = 0; r < N_ROWS(as_bounds); r++) {
        const as_bound_case_t *b = &as_bounds[r];
        const char *values[4] = {b->lo, b->hi, b->below, b->above};
        for (int k = 0; k < 4; k++) {
            autoscaler_config_t base, out;
            config_problems_t p;
            config_autoscaler_defaults(&base);
            json_t *doc = parse_text(b->extra ? b->extra : "{}");
            json_t *value = parse_text(values[k]);
            json_set_at(doc, b->path, json_incref(value));
            int rc = config_autoscaler_merge(&base, doc, &out, &p);
            if (k < 2) {
                cr_expect_eq(rc, 0, "%s = %s refused: %s", b->path, values[k],
                             p.count ? p.items[0].message : "");
                if (rc == 0) {
                    json_t *back = config_autoscaler_to_json(&out);
                    cr_expect(json_equal(json_at(back, b->path), value), "%s = %s not read back",
                              b->path, values[k]);
                    json_decref(back);
                }
            } else {
                cr_expect_eq(rc, -1, "%s = %s accepted", b->path, values[k]);
                cr_expect_eq(p.count, 1, "%s = %s: %zu problems", b->path, values[k], p.count);
                if (p.count >= 1) {
                    cr_expect_str_eq(p.items[0].field, b->path);
                    cr_expect(strstr(p.items[0].message, b->message) == p.items[0].message,
                              "%s = %s: message \"%s\" lacks \"%s\"", b->path, values[k],
                              p.items[0].message, b->message);
                    cr_expect_str_eq(p.items[0].valid_range, b->valid_range, "%s", b->path);
                    cr_expect(json_equal(p.items[0].provided_value, value),
                              "%s = %s: provided_value differs", b->path, values[k]);
                }
                config_problems_clear(&p);
            }
            json_decref(value);
            json_decref(doc);
        }
    }
}

/* Documents that are refused, with every problem they must report, in
 * order. provided is the value as JSON text, or NULL for a field the
 * document did not set. */
typedef struct want_problem {
    const char *field;
    const char *message;     /* part of the message */
    const char *valid_range; /* exact */
    const char *provided;
} want_problem_t;

#define MAX_WANT 8

typedef struct problem_case {
    const char *name;
    const char *base; /* merged onto the defaults first; NULL: the defaults */
    const char *doc;
    want_problem_t want[MAX_WANT];
} problem_case_t;

#define PROBLEMS(name_, base_, doc_, ...)                                                          \
    {                                                                                              \
        .name = name_, .base = base_, .doc = doc_, .want = { __VA_ARGS__ }                         \
    }

#define TOP_KEYS                                                                                   \
    "enabled|zero_scaling_enabled|scaling_strategy|replicas|thresholds|cooldowns|timing|"          \
    "model_management|advanced|scale_down_threshold|zero_scale_threshold|"                         \
    "cold_start_timeout_seconds|reactive"

/* clang-format off */
static const problem_case_t problem_cases[] = {
    /* The document itself. */
    PROBLEMS("root is an array", NULL, "[]", {"(root)", "must be an object with any of: enabled, ", "object", "[]"}),
    PROBLEMS("root is a number", NULL, "5", {"(root)", "must be an object", "object", "5"}),
    PROBLEMS("root is a string", NULL, "'x'", {"(root)", "must be an object", "object", "'x'"}),
    PROBLEMS("root is null", NULL, "null", {"(root)", "must be an object", "object", "null"}),

    /* Unknown fields at each depth; valid_range lists the known keys. */
    PROBLEMS("unknown top-level field", NULL, "{'enable':true}",
        {"enable", "unknown field (expected one of: enabled, zero_scaling_enabled, scaling_strategy, "
         "replicas, thresholds, cooldowns, timing, model_management, advanced, "
         "scale_down_threshold, zero_scale_threshold, cold_start_timeout_seconds, reactive)",
         TOP_KEYS, "true"}),
    PROBLEMS("a leaf at the wrong depth", NULL, "{'cpu_threshold':70}",
        {"cpu_threshold", "unknown field", TOP_KEYS, "70"}),
    PROBLEMS("a file-only section", NULL, "{'server':{}}", {"server", "unknown field", TOP_KEYS, "{}"}),
    PROBLEMS("unknown in replicas", NULL, "{'replicas':{'min':1}}",
        {"replicas.min", "unknown field (expected one of: min_replicas, max_replicas, default_replicas)",
         "min_replicas|max_replicas|default_replicas", "1"}),
    PROBLEMS("a key of another section", NULL, "{'replicas':{'enabled':true}}",
        {"replicas.enabled", "unknown field", "min_replicas|max_replicas|default_replicas", "true"}),
    PROBLEMS("unknown in thresholds", NULL, "{'thresholds':{'cpu':70}}",
        {"thresholds.cpu", "unknown field", "cpu_threshold|memory_threshold|gpu_threshold|"
         "queue_length_threshold|response_time_threshold_ms", "70"}),
    PROBLEMS("unknown in cooldowns", NULL, "{'cooldowns':{'scale_up':1}}",
        {"cooldowns.scale_up", "unknown field", "scale_up_cooldown_seconds|"
         "scale_down_cooldown_seconds|zero_scale_cooldown_seconds", "1"}),
    PROBLEMS("unknown in timing", NULL, "{'timing':{'decision_interval':2}}",
        {"timing.decision_interval", "unknown field", "metrics_collection_interval_seconds|"
         "decision_interval_seconds|health_check_interval_seconds", "2"}),
    PROBLEMS("unknown in model_management", NULL, "{'model_management':{'idle':1}}",
        {"model_management.idle", "unknown field", "auto_unload_unused_models|"
         "model_idle_timeout_minutes|preload_popular_models|max_concurrent_model_loads", "1"}),
    PROBLEMS("unknown in advanced", NULL, "{'advanced':{'webhook':null}}",
        {"advanced.webhook", "unknown field", "predictive_scaling|custom_metrics_enabled|"
         "external_metrics_webhook|scaling_notifications_enabled", "null"}),
    PROBLEMS("unknown in scale_down_threshold", NULL, "{'scale_down_threshold':{'cpu':1}}",
        {"scale_down_threshold.cpu", "unknown field", "cpu_percent|memory_percent|idle_time_minutes", "1"}),
    PROBLEMS("unknown in zero_scale_threshold", NULL, "{'zero_scale_threshold':{'idle':1}}",
        {"zero_scale_threshold.idle", "unknown field", "idle_time_minutes|no_requests_minutes", "1"}),
    PROBLEMS("unknown in reactive", NULL, "{'reactive':{'window':1}}",
        {"reactive.window", "unknown field", "target_concurrency|stable_window_seconds|"
         "panic_window_seconds|panic_threshold", "1"}),
    PROBLEMS("an object below a leaf", NULL, "{'thresholds':{'cpu_threshold':{'value':70}}}",
        {"thresholds.cpu_threshold", "must be a number between 1 and 100", "1-100", "{'value':70}"}),

    /* Wrong types. */
    PROBLEMS("integer given a real", NULL, "{'replicas':{'max_replicas':2.5}}",
        {"replicas.max_replicas", "must be an integer between 1 and 10", "1-10", "2.5"}),
    PROBLEMS("integer given a whole real", NULL, "{'replicas':{'max_replicas':2.0}}",
        {"replicas.max_replicas", "must be an integer", "1-10", "2.0"}),
    PROBLEMS("integer given a string", NULL, "{'thresholds':{'queue_length_threshold':'10'}}",
        {"thresholds.queue_length_threshold", "must be an integer", "1-100000", "'10'"}),
    PROBLEMS("integer given a boolean", NULL, "{'replicas':{'default_replicas':true}}",
        {"replicas.default_replicas", "must be an integer", "0-10", "true"}),
    PROBLEMS("integer given null", NULL, "{'model_management':{'max_concurrent_model_loads':null}}",
        {"model_management.max_concurrent_model_loads", "must be an integer", "1-10", "null"}),
    PROBLEMS("number given a string", NULL, "{'thresholds':{'cpu_threshold':'70'}}",
        {"thresholds.cpu_threshold", "must be a number between 1 and 100", "1-100", "'70'"}),
    PROBLEMS("number given a boolean", NULL, "{'cooldowns':{'scale_up_cooldown_seconds':false}}",
        {"cooldowns.scale_up_cooldown_seconds", "must be a number of seconds", "0-86400", "false"}),
    PROBLEMS("number given an array", NULL, "{'thresholds':{'gpu_threshold':[85]}}",
        {"thresholds.gpu_threshold", "must be a number", "1-100", "[85]"}),
    PROBLEMS("number given null", NULL, "{'reactive':{'panic_threshold':null}}",
        {"reactive.panic_threshold", "must be a number", "1.1-10", "null"}),
    PROBLEMS("boolean given a number", NULL, "{'enabled':1}",
        {"enabled", "must be true or false", "true|false", "1"}),
    PROBLEMS("boolean given a string", NULL, "{'advanced':{'custom_metrics_enabled':'true'}}",
        {"advanced.custom_metrics_enabled", "must be true or false", "true|false", "'true'"}),
    PROBLEMS("boolean given null", NULL, "{'zero_scaling_enabled':null}",
        {"zero_scaling_enabled", "must be true or false", "true|false", "null"}),
    PROBLEMS("unknown strategy", NULL, "{'scaling_strategy':'fast'}",
        {"scaling_strategy", "must be one of \"reactive\", \"predictive\", \"hybrid\"",
         "reactive|predictive|hybrid", "'fast'"}),
    PROBLEMS("strategy names are case-sensitive", NULL, "{'scaling_strategy':'Reactive'}",
        {"scaling_strategy", "must be one of", "reactive|predictive|hybrid", "'Reactive'"}),
    PROBLEMS("strategy given a number", NULL, "{'scaling_strategy':1}",
        {"scaling_strategy", "must be one of", "reactive|predictive|hybrid", "1"}),
    PROBLEMS("strategy given null", NULL, "{'scaling_strategy':null}",
        {"scaling_strategy", "must be one of", "reactive|predictive|hybrid", "null"}),
    PROBLEMS("section given a number", NULL, "{'thresholds':5}",
        {"thresholds", "must be an object", "object", "5"}),
    PROBLEMS("section given null", NULL, "{'replicas':null}",
        {"replicas", "must be an object", "object", "null"}),
    PROBLEMS("section given an array", NULL, "{'advanced':[]}",
        {"advanced", "must be an object", "object", "[]"}),
    PROBLEMS("target_concurrency 0", NULL, "{'reactive':{'target_concurrency':0}}",
        {"reactive.target_concurrency", "must be a number between 0.1 and 1000", "0.1-1000", "0"}),

    /* The webhook. */
#define WEBHOOK(v) "{'advanced':{'external_metrics_webhook':" v "}}"
#define A16        "aaaaaaaaaaaaaaaa"
#define A61        A16 A16 A16 "aaaaaaaaaaaaa"
#define A62        A61 "a"
#define A63        A62 "a"
#define A64        A63 "a"
#define HOOK_RANGE "null or http://HOST[:PORT][/PATH]"
    PROBLEMS("https webhook", NULL, WEBHOOK("'https://hooks.example.com/x'"),
        {"advanced.external_metrics_webhook", "only http:// URLs are supported", HOOK_RANGE,
         "'https://hooks.example.com/x'"}),
    PROBLEMS("ftp webhook", NULL, WEBHOOK("'ftp://example.com/'"),
        {"advanced.external_metrics_webhook", "only http:// URLs are supported", HOOK_RANGE,
         "'ftp://example.com/'"}),
    PROBLEMS("garbage webhook", NULL, WEBHOOK("'garbage'"),
        {"advanced.external_metrics_webhook", "only http:// URLs are supported", HOOK_RANGE, "'garbage'"}),
    PROBLEMS("upper-case scheme", NULL, WEBHOOK("'HTTP://example.com/'"),
        {"advanced.external_metrics_webhook", "only http:// URLs are supported", HOOK_RANGE,
         "'HTTP://example.com/'"}),
    PROBLEMS("empty webhook (null clears it)", NULL, WEBHOOK("''"),
        {"advanced.external_metrics_webhook", "only http:// URLs are supported", HOOK_RANGE, "''"}),
    PROBLEMS("webhook without a host", NULL, WEBHOOK("'http://'"),
        {"advanced.external_metrics_webhook", "must name a host after http://", HOOK_RANGE, "'http://'"}),
    PROBLEMS("webhook with a path but no host", NULL, WEBHOOK("'http:///events'"),
        {"advanced.external_metrics_webhook", "must name a host", HOOK_RANGE, "'http:///events'"}),
    PROBLEMS("webhook port 0", NULL, WEBHOOK("'http://example.com:0/'"),
        {"advanced.external_metrics_webhook", "must have a port between 1 and 65535", HOOK_RANGE,
         "'http://example.com:0/'"}),
    PROBLEMS("webhook port 65536", NULL, WEBHOOK("'http://example.com:65536'"),
        {"advanced.external_metrics_webhook", "port between 1 and 65535", HOOK_RANGE,
         "'http://example.com:65536'"}),
    PROBLEMS("webhook empty port", NULL, WEBHOOK("'http://example.com:/'"),
        {"advanced.external_metrics_webhook", "port between 1 and 65535", HOOK_RANGE,
         "'http://example.com:/'"}),
    PROBLEMS("webhook port not a number", NULL, WEBHOOK("'http://example.com:8o/'"),
        {"advanced.external_metrics_webhook", "port between 1 and 65535", HOOK_RANGE,
         "'http://example.com:8o/'"}),
    PROBLEMS("webhook with a space", NULL, WEBHOOK("'http://example.com/a b'"),
        {"advanced.external_metrics_webhook", "must not contain spaces", HOOK_RANGE,
         "'http://example.com/a b'"}),
    PROBLEMS("webhook with user information", NULL, WEBHOOK("'http://u:p@example.com/'"),
        {"advanced.external_metrics_webhook", "must not contain user information", HOOK_RANGE,
         "'http://u:p@example.com/'"}),
    PROBLEMS("webhook host with an underscore", NULL, WEBHOOK("'http://a_b/'"),
        {"advanced.external_metrics_webhook", "must have a host name of letters", HOOK_RANGE,
         "'http://a_b/'"}),
    PROBLEMS("webhook bad IPv6", NULL, WEBHOOK("'http://[::1/'"),
        {"advanced.external_metrics_webhook", "bracketed IPv6", HOOK_RANGE, "'http://[::1/'"}),
    /* Bracketed IPv6 as inet_pton reads it; a host of digits and dots is
     * an IPv4 address and must be a valid one; DNS label and name lengths. */
    PROBLEMS("webhook IPv6 of letters", NULL, WEBHOOK("'http://[zz]/x'"),
        {"advanced.external_metrics_webhook", "bracketed IPv6", HOOK_RANGE, "'http://[zz]/x'"}),
    PROBLEMS("webhook IPv4 in brackets", NULL, WEBHOOK("'http://[1.2.3.4]/'"),
        {"advanced.external_metrics_webhook", "bracketed IPv6", HOOK_RANGE, "'http://[1.2.3.4]/'"}),
    PROBLEMS("webhook IPv6 of colons only", NULL, WEBHOOK("'http://[:::::::::]/'"),
        {"advanced.external_metrics_webhook", "bracketed IPv6", HOOK_RANGE,
         "'http://[:::::::::]/'"}),
    PROBLEMS("webhook empty brackets", NULL, WEBHOOK("'http://[]/'"),
        {"advanced.external_metrics_webhook", "bracketed IPv6", HOOK_RANGE, "'http://[]/'"}),
    PROBLEMS("webhook IPv6 with a zone", NULL, WEBHOOK("'http://[fe80::1%25eth0]/'"),
        {"advanced.external_metrics_webhook", "bracketed IPv6", HOOK_RANGE,
         "'http://[fe80::1%25eth0]/'"}),
    PROBLEMS("webhook IPv4 out of range", NULL, WEBHOOK("'http://999.999.999.999/'"),
        {"advanced.external_metrics_webhook", "valid IPv4 address", HOOK_RANGE,
         "'http://999.999.999.999/'"}),
    PROBLEMS("webhook IPv4 of three numbers", NULL, WEBHOOK("'http://10.1.2:80/'"),
        {"advanced.external_metrics_webhook", "valid IPv4 address", HOOK_RANGE,
         "'http://10.1.2:80/'"}),
    PROBLEMS("webhook IPv4 with a trailing dot", NULL, WEBHOOK("'http://1.2.3.4./'"),
        {"advanced.external_metrics_webhook", "valid IPv4 address", HOOK_RANGE,
         "'http://1.2.3.4./'"}),
    PROBLEMS("webhook host of one number", NULL, WEBHOOK("'http://12345/'"),
        {"advanced.external_metrics_webhook", "valid IPv4 address", HOOK_RANGE, "'http://12345/'"}),
    PROBLEMS("webhook host label of 64", NULL, WEBHOOK("'http://" A64 ".example/'"),
        {"advanced.external_metrics_webhook", "labels are 1 to 63", HOOK_RANGE,
         "'http://" A64 ".example/'"}),
    PROBLEMS("webhook host with an empty label", NULL, WEBHOOK("'http://a..b/'"),
        {"advanced.external_metrics_webhook", "labels are 1 to 63", HOOK_RANGE, "'http://a..b/'"}),
    PROBLEMS("webhook host starting with a dot", NULL, WEBHOOK("'http://.a/'"),
        {"advanced.external_metrics_webhook", "labels are 1 to 63", HOOK_RANGE, "'http://.a/'"}),
    PROBLEMS("webhook label ending with '-'", NULL, WEBHOOK("'http://a-.b/'"),
        {"advanced.external_metrics_webhook", "not starting or ending with '-'", HOOK_RANGE,
         "'http://a-.b/'"}),
    PROBLEMS("webhook host of 254", NULL, WEBHOOK("'http://" A63 "." A63 "." A63 "." A62 "/'"),
        {"advanced.external_metrics_webhook", "at most 253 characters (got 254)", HOOK_RANGE,
         "'http://" A63 "." A63 "." A63 "." A62 "/'"}),
    PROBLEMS("webhook given a number", NULL, WEBHOOK("5"),
        {"advanced.external_metrics_webhook", "must be null or an http:// URL string", HOOK_RANGE, "5"}),

    /* Cross-field rules, blamed on the fields the document set. */
    PROBLEMS("min above max, both set", NULL, "{'replicas':{'min_replicas':4,'max_replicas':3}}",
        {"replicas.min_replicas", "must not exceed replicas.max_replicas (4 > 3)", "0-3", "4"},
        {"replicas.max_replicas", "must not be below replicas.min_replicas (3 < 4)", "4-10", "3"}),
    PROBLEMS("min above the base max", NULL, "{'replicas':{'min_replicas':6}}",
        {"replicas.min_replicas", "must not exceed replicas.max_replicas (6 > 5)", "0-5", "6"}),
    PROBLEMS("max below the base min", "{'replicas':{'min_replicas':4,'default_replicas':4}}",
     "{'replicas':{'max_replicas':3}}",
        {"replicas.max_replicas", "must not be below replicas.min_replicas (3 < 4)", "4-10", "3"}),
    PROBLEMS("default above max", NULL, "{'replicas':{'default_replicas':6}}",
        {"replicas.default_replicas", "must be between replicas.min_replicas and "
         "replicas.max_replicas (0-5)", "0-5", "6"}),
    PROBLEMS("min above the base default", NULL, "{'replicas':{'min_replicas':2}}",
        {"replicas.min_replicas", "must not exceed replicas.default_replicas (2 > 1)", "0-1", "2"}),
    PROBLEMS("max below default, both set", NULL, "{'replicas':{'max_replicas':2,'default_replicas':3}}",
        {"replicas.default_replicas", "(0-2)", "0-2", "3"},
        {"replicas.max_replicas", "must not be below replicas.default_replicas (2 < 3)", "3-10", "2"}),
    PROBLEMS("panic window above the stable window", NULL, "{'reactive':{'panic_window_seconds':61}}",
        {"reactive.panic_window_seconds", "must not exceed reactive.stable_window_seconds (61 > 60)",
         "1-60", "61"}),
    PROBLEMS("stable window below the panic window", NULL, "{'reactive':{'stable_window_seconds':5}}",
        {"reactive.stable_window_seconds", "must not be below reactive.panic_window_seconds (5 < 6)",
         "6-3600", "5"}),
    PROBLEMS("both windows set wrong", NULL,
     "{'reactive':{'stable_window_seconds':10,'panic_window_seconds':12.5}}",
        {"reactive.panic_window_seconds", "(12.5 > 10)", "1-10", "12.5"},
        {"reactive.stable_window_seconds", "(10 < 12.5)", "12.5-3600", "10"}),
    PROBLEMS("scale-down cpu at the scale-up threshold", NULL,
     "{'scale_down_threshold':{'cpu_percent':70}}",
        {"scale_down_threshold.cpu_percent", "must be below thresholds.cpu_threshold (70 >= 70), "
         "or scaling would flap", "0 to below 70", "70"}),
    PROBLEMS("scale-up cpu down to the scale-down threshold", NULL,
     "{'thresholds':{'cpu_threshold':20}}",
        {"thresholds.cpu_threshold", "must be above scale_down_threshold.cpu_percent (20 <= 20)",
         "above 20 to 100", "20"}),
    PROBLEMS("scale-down memory above the scale-up threshold", NULL,
     "{'scale_down_threshold':{'memory_percent':85}}",
        {"scale_down_threshold.memory_percent", "must be below thresholds.memory_threshold (85 >= 80)",
         "0 to below 80", "85"}),
    PROBLEMS("both memory thresholds set wrong", NULL,
     "{'thresholds':{'memory_threshold':40},'scale_down_threshold':{'memory_percent':50}}",
        {"scale_down_threshold.memory_percent", "(50 >= 40)", "0 to below 40", "50"},
        {"thresholds.memory_threshold", "(40 <= 50)", "above 50 to 100", "40"}),
    PROBLEMS("a field refused by type is not also blamed by a rule", NULL,
     "{'replicas':{'min_replicas':4,'max_replicas':'3'}}",
        {"replicas.max_replicas", "must be an integer", "1-10", "'3'"}),

    /* Mirrors set inconsistently: both names are reported. */
    PROBLEMS("predictive strategy without predictive_scaling", NULL,
     "{'scaling_strategy':'predictive','advanced':{'predictive_scaling':false}}",
        {"scaling_strategy", "contradicts advanced.predictive_scaling (false)", "reactive", "'predictive'"},
        {"advanced.predictive_scaling", "contradicts scaling_strategy (\"predictive\")", "true", "false"}),
    PROBLEMS("reactive strategy with predictive_scaling", NULL,
     "{'advanced':{'predictive_scaling':true},'scaling_strategy':'reactive'}",
        {"scaling_strategy", "contradicts advanced.predictive_scaling (true)", "predictive|hybrid",
         "'reactive'"},
        {"advanced.predictive_scaling", "contradicts scaling_strategy (\"reactive\")", "false", "true"}),
    PROBLEMS("idle timeout under two names, two values", NULL,
     "{'model_management':{'model_idle_timeout_minutes':20},"
     "'zero_scale_threshold':{'idle_time_minutes':25}}",
        {"model_management.model_idle_timeout_minutes",
         "must equal zero_scale_threshold.idle_time_minutes (20 != 25)", "25", "20"},
        {"zero_scale_threshold.idle_time_minutes",
         "must equal model_management.model_idle_timeout_minutes (25 != 20)", "20", "25"}),

    /* Every problem at once: field problems in document order, then rules. */
    PROBLEMS("many problems", NULL,
     "{'enabled':'yes','thresholds':{'cpu_threshold':150,'gpu':1},"
     "'replicas':{'min_replicas':4,'max_replicas':3},'colour':'red',"
     "'advanced':{'external_metrics_webhook':'https://x.example/'}}",
        {"enabled", "must be true or false", "true|false", "'yes'"},
        {"thresholds.cpu_threshold", "must be a number between 1 and 100", "1-100", "150"},
        {"thresholds.gpu", "unknown field", "cpu_threshold|memory_threshold|gpu_threshold|"
         "queue_length_threshold|response_time_threshold_ms", "1"},
        {"colour", "unknown field", TOP_KEYS, "'red'"},
        {"advanced.external_metrics_webhook", "only http:// URLs are supported", HOOK_RANGE,
         "'https://x.example/'"},
        {"replicas.min_replicas", "must not exceed replicas.max_replicas (4 > 3)", "0-3", "4"},
        {"replicas.max_replicas", "must not be below replicas.min_replicas (3 < 4)", "4-10", "3"}),
};
/* clang-format on */

Test(autoscaler, problems)
{
    for (size_t r = 0; r < N_ROWS(problem_cases); r++) {
        const problem_case_t *c = &problem_cases[r];
        autoscaler_config_t base, out, before;
        config_problems_t p;
        base_from(c->base, &base);
        base_from("{'enabled':false,'replicas':{'max_replicas':7}}", &out);
        before = out;
        /* Stale contents must not be read. */
        memset(&p, 0xab, sizeof(p));

        int rc = merge_text(&base, c->doc, &out, &p);
        cr_expect_eq(rc, -1, "[%s] accepted", c->name);
        expect_same(&before, &out, c->name);

        size_t n_want = 0;
        while (n_want < MAX_WANT && c->want[n_want].field)
            n_want++;
        cr_expect_eq(p.count, n_want, "[%s] %zu problems, expected %zu (first: %s: %s)", c->name,
                     p.count, n_want, p.count ? p.items[0].field : "-",
                     p.count ? p.items[0].message : "-");
        for (size_t i = 0; i < n_want && i < p.count; i++) {
            const want_problem_t *w = &c->want[i];
            const config_problem_t *got = &p.items[i];
            cr_expect_str_eq(got->field, w->field, "[%s] problem %zu", c->name, i);
            cr_expect(strstr(got->message, w->message) != NULL,
                      "[%s] %s: message \"%s\" lacks \"%s\"", c->name, w->field, got->message,
                      w->message);
            cr_expect_str_eq(got->valid_range, w->valid_range, "[%s] %s: valid_range", c->name,
                             w->field);
            if (w->provided) {
                json_t *want_value = parse_text(w->provided);
                char *dump =
                    got->provided_value ? json_dumps(got->provided_value, JSON_ENCODE_ANY) : NULL;
                cr_expect(json_equal(got->provided_value, want_value),
                          "[%s] %s: provided_value %s, expected %s", c->name, w->field,
                          dump ? dump : "(none)", w->provided);
                free(dump);
                json_decref(want_value);
            } else {
                cr_expect_null(got->provided_value, "[%s] %s", c->name, w->field);
            }
        }
        config_problems_clear(&p);
        cr_expect_eq(p.count, 0);
    }
}

/* Accepted documents: what the merged configuration holds. */
typedef struct accept_case {
    const char *name;
    const char *base; /* NULL: the defaults */
    const char *doc;
    expect_t expect[MAX_EXPECT]; /* paths into config_autoscaler_to_json() */
} accept_case_t;

#define MERGES(name_, base_, doc_, ...)                                                            \
    {                                                                                              \
        .name = name_, .base = base_, .doc = doc_, .expect = { __VA_ARGS__ }                       \
    }

/* clang-format off */
static const accept_case_t accept_cases[] = {
    /* Mirrors: scaling_strategy and advanced.predictive_scaling. */
    MERGES("predictive strategy sets predictive_scaling", NULL, "{'scaling_strategy':'predictive'}",
        {"scaling_strategy", "predictive"}, {"advanced.predictive_scaling", "true"}),
    MERGES("hybrid strategy sets predictive_scaling", NULL, "{'scaling_strategy':'hybrid'}",
        {"scaling_strategy", "hybrid"}, {"advanced.predictive_scaling", "true"}),
    MERGES("reactive strategy clears predictive_scaling", "{'scaling_strategy':'predictive'}",
     "{'scaling_strategy':'reactive'}",
        {"scaling_strategy", "reactive"}, {"advanced.predictive_scaling", "false"}),
    MERGES("predictive_scaling true over reactive means hybrid", NULL,
     "{'advanced':{'predictive_scaling':true}}",
        {"scaling_strategy", "hybrid"}, {"advanced.predictive_scaling", "true"}),
    MERGES("predictive_scaling true keeps predictive", "{'scaling_strategy':'predictive'}",
     "{'advanced':{'predictive_scaling':true}}",
        {"scaling_strategy", "predictive"}, {"advanced.predictive_scaling", "true"}),
    MERGES("predictive_scaling true keeps hybrid", "{'scaling_strategy':'hybrid'}",
     "{'advanced':{'predictive_scaling':true}}", {"scaling_strategy", "hybrid"}),
    MERGES("predictive_scaling false means reactive", "{'scaling_strategy':'hybrid'}",
     "{'advanced':{'predictive_scaling':false}}",
        {"scaling_strategy", "reactive"}, {"advanced.predictive_scaling", "false"}),
    MERGES("predictive_scaling false over reactive", NULL, "{'advanced':{'predictive_scaling':false}}",
        {"scaling_strategy", "reactive"}),
    MERGES("both set consistently", NULL,
     "{'scaling_strategy':'predictive','advanced':{'predictive_scaling':true}}",
        {"scaling_strategy", "predictive"}, {"advanced.predictive_scaling", "true"}),

    /* Mirrors: the idle timeout under its two names. */
    MERGES("model_idle_timeout_minutes sets both", NULL,
     "{'model_management':{'model_idle_timeout_minutes':20}}",
        {"model_management.model_idle_timeout_minutes", "20"},
        {"zero_scale_threshold.idle_time_minutes", "20"}),
    MERGES("zero_scale_threshold.idle_time_minutes sets both", NULL,
     "{'zero_scale_threshold':{'idle_time_minutes':0.5}}",
        {"model_management.model_idle_timeout_minutes", "0.5"},
        {"zero_scale_threshold.idle_time_minutes", "0.5"}),
    MERGES("both idle names with one value", NULL,
     "{'model_management':{'model_idle_timeout_minutes':30},"
     "'zero_scale_threshold':{'idle_time_minutes':30.0}}",
        {"model_management.model_idle_timeout_minutes", "30"},
        {"zero_scale_threshold.idle_time_minutes", "30"}),

    /* Rules at their edges. */
    MERGES("min equal to max and default", NULL,
     "{'replicas':{'min_replicas':3,'max_replicas':3,'default_replicas':3}}",
        {"replicas.min_replicas", "3"}, {"replicas.max_replicas", "3"}),
    MERGES("panic window equal to the stable window", NULL,
     "{'reactive':{'stable_window_seconds':6,'panic_window_seconds':6}}",
        {"reactive.stable_window_seconds", "6"}),
    MERGES("scale-down just below scale-up", NULL,
     "{'scale_down_threshold':{'cpu_percent':69.9,'memory_percent':79.99}}",
        {"scale_down_threshold.cpu_percent", "69.9"}, {"scale_down_threshold.memory_percent", "79.99"}),
    MERGES("thresholds raised together with scale-down", NULL,
     "{'thresholds':{'cpu_threshold':95},'scale_down_threshold':{'cpu_percent':90}}",
        {"thresholds.cpu_threshold", "95"}, {"scale_down_threshold.cpu_percent", "90"}),

    /* Webhooks that are accepted. */
    MERGES("webhook with port and path", NULL, WEBHOOK("'http://127.0.0.1:9000/events'"),
        {"advanced.external_metrics_webhook", "http://127.0.0.1:9000/events"}),
    MERGES("webhook host only", NULL, WEBHOOK("'http://localhost'"),
        {"advanced.external_metrics_webhook", "http://localhost"}),
    MERGES("webhook with a query", NULL, WEBHOOK("'http://hooks.example.com?team=ml'"),
        {"advanced.external_metrics_webhook", "http://hooks.example.com?team=ml"}),
    MERGES("webhook IPv6", NULL, WEBHOOK("'http://[::1]:8080/x'"),
        {"advanced.external_metrics_webhook", "http://[::1]:8080/x"}),
    MERGES("webhook IPv6 any", NULL, WEBHOOK("'http://[::]/'"),
        {"advanced.external_metrics_webhook", "http://[::]/"}),
    MERGES("webhook IPv4-mapped IPv6", NULL, WEBHOOK("'http://[::ffff:1.2.3.4]/'"),
        {"advanced.external_metrics_webhook", "http://[::ffff:1.2.3.4]/"}),
    MERGES("webhook full IPv6", NULL, WEBHOOK("'http://[2001:db8:0:0:0:0:0:1]:9/'"),
        {"advanced.external_metrics_webhook", "http://[2001:db8:0:0:0:0:0:1]:9/"}),
    MERGES("webhook IPv4 255s", NULL, WEBHOOK("'http://255.255.255.255/'"),
        {"advanced.external_metrics_webhook", "http://255.255.255.255/"}),
    MERGES("webhook name with a digit label", NULL, WEBHOOK("'http://1.example/'"),
        {"advanced.external_metrics_webhook", "http://1.example/"}),
    MERGES("webhook fully qualified name", NULL, WEBHOOK("'http://hooks.example.com./x'"),
        {"advanced.external_metrics_webhook", "http://hooks.example.com./x"}),
    MERGES("webhook host label of 63", NULL, WEBHOOK("'http://" A63 ".example/'"),
        {"advanced.external_metrics_webhook", "http://" A63 ".example/"}),
    MERGES("webhook host of 253", NULL, WEBHOOK("'http://" A63 "." A63 "." A63 "." A61 "/'"),
        {"advanced.external_metrics_webhook", "http://" A63 "." A63 "." A63 "." A61 "/"}),
    MERGES("webhook port 65535", NULL, WEBHOOK("'http://h:65535/'"),
        {"advanced.external_metrics_webhook", "http://h:65535/"}),
    MERGES("null clears the webhook", "{'advanced':{'external_metrics_webhook':'http://h/'}}",
     WEBHOOK("null"), {"advanced.external_metrics_webhook", "null"}),

    /* Numbers: integers where the field is one, reals only when fractional. */
    MERGES("a whole real reads back as an integer", NULL, "{'thresholds':{'cpu_threshold':75.0}}",
        {"thresholds.cpu_threshold", "75"}),
    MERGES("a fraction stays a real", NULL, "{'thresholds':{'response_time_threshold_ms':1500.5}}",
        {"thresholds.response_time_threshold_ms", "1500.5"}),
    MERGES("booleans", NULL, "{'enabled':false,'advanced':{'custom_metrics_enabled':true}}",
        {"enabled", "false"}, {"advanced.custom_metrics_enabled", "true"},
        {"zero_scaling_enabled", "true"}),
};
/* clang-format on */

Test(autoscaler, accepted)
{
    for (size_t r = 0; r < N_ROWS(accept_cases); r++) {
        const accept_case_t *c = &accept_cases[r];
        autoscaler_config_t base, out;
        config_problems_t p;
        base_from(c->base, &base);
        int rc = merge_text(&base, c->doc, &out, &p);
        cr_expect_eq(rc, 0, "[%s] refused: %s: %s", c->name, p.count ? p.items[0].field : "",
                     p.count ? p.items[0].message : "");
        cr_expect_eq(p.count, 0, "[%s]", c->name);
        if (rc != 0) {
            config_problems_clear(&p);
            continue;
        }
        json_t *doc = config_autoscaler_to_json(&out);
        for (size_t e = 0; e < MAX_EXPECT && c->expect[e].path; e++) {
            char got[600] = "(absent)";
            json_t *v = json_at(doc, c->expect[e].path);
            if (v)
                format_json(v, got, sizeof(got));
            cr_expect_str_eq(got, c->expect[e].value, "[%s] %s is %s, expected %s", c->name,
                             c->expect[e].path, got, c->expect[e].value);
        }
        json_decref(doc);
    }
}

/* Fields a document leaves out keep the base's values, at every depth. */
Test(autoscaler, merge_keeps_base)
{
    static const char *const docs[] = {
        "{}",
        "{'thresholds':{}}",
        "{'thresholds':{'gpu_threshold':90}}",
        "{'replicas':{'max_replicas':8}}",
        "{'advanced':{'scaling_notifications_enabled':false}}",
    };
    static const char *const changed[] = {
        "",
        "",
        "thresholds.gpu_threshold",
        "replicas.max_replicas",
        "advanced.scaling_notifications_enabled",
    };
    autoscaler_config_t base;
    base_from("{'enabled':false,'scaling_strategy':'hybrid','replicas':{'min_replicas':1,"
              "'max_replicas':6,'default_replicas':2},'thresholds':{'cpu_threshold':65.5},"
              "'advanced':{'external_metrics_webhook':'http://h:1/x'},"
              "'zero_scale_threshold':{'idle_time_minutes':3},'reactive':{'panic_threshold':3}}",
              &base);
    for (size_t r = 0; r < N_ROWS(docs); r++) {
        autoscaler_config_t out;
        config_problems_t p;
        cr_assert_eq(merge_text(&base, docs[r], &out, &p), 0, "%s refused", docs[r]);
        json_t *diff = config_autoscaler_diff(&base, &out);
        char *dump = json_dumps(diff, JSON_COMPACT);
        char want[128];
        snprintf(want, sizeof(want), changed[r][0] ? "[\"%s\"]" : "[]", changed[r]);
        cr_expect_str_eq(dump, want, "%s over the base changed %s", docs[r], dump);
        free(dump);
        json_decref(diff);
        cr_expect_str_eq(out.advanced.external_metrics_webhook, "http://h:1/x");
        cr_expect_eq(out.scaling_strategy, STRATEGY_HYBRID);
        cr_expect_eq(out.model_management.model_idle_timeout_minutes, 3);
    }

    /* out may be base; a refused document leaves it as it was. */
    autoscaler_config_t copy = base;
    config_problems_t p;
    cr_expect_eq(merge_text(&base, "{'enabled':true,'thresholds':{'cpu_threshold':0}}", &base, &p),
                 -1);
    config_problems_clear(&p);
    expect_same(&copy, &base, "refused merge in place");
    cr_expect_eq(merge_text(&base, "{'enabled':true}", &base, &p), 0);
    cr_expect_eq(base.enabled, true);

    /* problems may be NULL. */
    cr_expect_eq(merge_text(&base, "{'enabled':2}", &copy, NULL), -1);
    cr_expect_eq(merge_text(&base, "{'enabled':false}", &copy, NULL), 0);
}

/* Collection stops at CONFIG_MAX_PROBLEMS; every reference is released by
 * config_problems_clear, and provided values outlive the document. */
Test(autoscaler, many_problems)
{
    json_t *doc = json_object();
    for (int i = 0; i < CONFIG_MAX_PROBLEMS + 8; i++) {
        char key[32];
        snprintf(key, sizeof(key), "unknown_%02d", i);
        json_object_set_new(doc, key, json_integer(i));
    }
    autoscaler_config_t base, out;
    config_problems_t p;
    config_autoscaler_defaults(&base);
    cr_expect_eq(config_autoscaler_merge(&base, doc, &out, &p), -1);
    json_decref(doc);
    cr_assert_eq(p.count, CONFIG_MAX_PROBLEMS);
    cr_expect_str_eq(p.items[0].field, "unknown_00");
    cr_expect_str_eq(p.items[CONFIG_MAX_PROBLEMS - 1].field, "unknown_31");
    cr_expect_eq(json_integer_value(p.items[5].provided_value), 5);
    config_problems_clear(&p);
    config_problems_clear(NULL);

    /* A message listing every top-level key is not cut short. */
    cr_expect_eq(merge_text(&base, "{'x':1}", &out, &p), -1);
    cr_expect(strstr(p.items[0].message, "cold_start_timeout_seconds, reactive)") != NULL, "%s",
              p.items[0].message);
    config_problems_clear(&p);

    /* A long unknown key is cut to 64 bytes in the path, marked "...". */
    cr_expect_eq(merge_text(&base,
                            "{'thresholds':{'a123456789b123456789c123456789d123456789e123456789f1"
                            "23456789g123456789':1}}",
                            &out, &p),
                 -1);
    cr_expect_str_eq(p.items[0].field, "thresholds.a123456789b123456789c123456789d123456789e1234"
                                       "56789f123456789g123...");
    config_problems_clear(&p);

    /* Cut keys end on a whole character, so the answer stays UTF-8: the
     * e-acute (C3 A9) or euro sign (E2 82 AC) that would straddle byte 64
     * is left out. Each row: the document, the path reported. */
    static const struct {
        const char *doc, *field;
    } cut_keys[] = {
        {"{'a\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3"
         "\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3"
         "\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9':1}",
         "a\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
         "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
         "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9..."},
        {"{'replicas':{'a123456789b123456789c123456789d123456789e123456789f12345678901"
         "\xE2\x82\xAC':1}}",
         "replicas.a123456789b123456789c123456789d123456789e123456789f12345678901..."},
    };
    for (size_t i = 0; i < sizeof(cut_keys) / sizeof(cut_keys[0]); i++) {
        cr_expect_eq(merge_text(&base, cut_keys[i].doc, &out, &p), -1);
        cr_expect_str_eq(p.items[0].field, cut_keys[i].field, "row %zu", i);
        json_t *field = json_string(p.items[0].field);
        json_t *message = json_string(p.items[0].message);
        cr_expect(field && message, "row %zu: the answer would not serialise", i);
        json_decref(field);
        json_decref(message);
        config_problems_clear(&p);
    }

    /* A webhook longer than its buffer. */
    char url[700] = "{'advanced':{'external_metrics_webhook':'http://example.com/";
    size_t n = strlen(url);
    memset(url + n, 'a', 520);
    snprintf(url + n + 520, sizeof(url) - n - 520, "'}}");
    cr_expect_eq(merge_text(&base, url, &out, &p), -1);
    cr_expect(strstr(p.items[0].message, "must be at most 511 bytes long") != NULL, "%s",
              p.items[0].message);
    config_problems_clear(&p);
}

/* The spec's GET /autoscaler/config "configuration" object: every key in
 * the same order with the same JSON type, then the three extra sections. */
static const char spec_get_text[] =
    "{'enabled':true,'zero_scaling_enabled':true,'scaling_strategy':'reactive',"
    "'replicas':{'min_replicas':0,'max_replicas':5,'default_replicas':1},"
    "'thresholds':{'cpu_threshold':70,'memory_threshold':80,'gpu_threshold':85,"
    "'queue_length_threshold':10,'response_time_threshold_ms':2000},"
    "'cooldowns':{'scale_up_cooldown_seconds':60,'scale_down_cooldown_seconds':300,"
    "'zero_scale_cooldown_seconds':900},"
    "'timing':{'metrics_collection_interval_seconds':5,'decision_interval_seconds':30,"
    "'health_check_interval_seconds':60},"
    "'model_management':{'auto_unload_unused_models':true,'model_idle_timeout_minutes':15,"
    "'preload_popular_models':true,'max_concurrent_model_loads':2},"
    "'advanced':{'predictive_scaling':false,'custom_metrics_enabled':false,"
    "'external_metrics_webhook':null,'scaling_notifications_enabled':true}}";

static int json_kind(const json_t *v)
{
    return json_is_boolean(v) ? JSON_TRUE : (int)json_typeof(v);
}

static void expect_same_shape(const json_t *want, const json_t *got, const char *where)
{
    const char *key;
    json_t *w;
    void *it = json_object_iter((json_t *)got);
    json_object_foreach ((json_t *)want, key, w) {
        cr_assert_not_null(it, "%s: %s missing (document too short)", where, key);
        cr_expect_str_eq(json_object_iter_key(it), key, "%s: key out of order", where);
        json_t *g = json_object_get(got, key);
        cr_assert_not_null(g, "%s: %s missing", where, key);
        cr_expect_eq(json_kind(g), json_kind(w), "%s.%s: JSON type differs", where, key);
        if (json_is_object(w))
            expect_same_shape(w, g, key);
        it = json_object_iter_next((json_t *)got, it);
    }
    if (strcmp(where, "configuration") != 0)
        cr_expect_null(it, "%s: extra key %s", where, it ? json_object_iter_key(it) : "");
}

Test(autoscaler, to_json_shape)
{
    autoscaler_config_t d;
    config_autoscaler_defaults(&d);
    json_t *want = parse_text(spec_get_text);
    json_t *got = config_autoscaler_to_json(&d);
    expect_same_shape(want, got, "configuration");

    /* After the spec's keys, exactly the three extra sections and the
     * models' default cold-start timeout. */
    static const char *const extra[] = {"scale_down_threshold", "zero_scale_threshold",
                                        "cold_start_timeout_seconds", "reactive"};
    void *it = json_object_iter(got);
    for (size_t i = 0; i < json_object_size(want); i++)
        it = json_object_iter_next(got, it);
    for (size_t i = 0; i < N_ROWS(extra); i++) {
        cr_assert_not_null(it, "%s missing", extra[i]);
        cr_expect_str_eq(json_object_iter_key(it), extra[i]);
        it = json_object_iter_next(got, it);
    }
    cr_expect_null(it, "unexpected key after reactive");
    cr_expect(json_is_null(json_at(got, "advanced.external_metrics_webhook")));
    json_decref(got);

    /* A set webhook is a string; a fractional threshold is a real; an
     * integer field stays an integer. */
    base_from("{'advanced':{'external_metrics_webhook':'http://h/'},"
              "'thresholds':{'cpu_threshold':72.5,'queue_length_threshold':7}}",
              &d);
    got = config_autoscaler_to_json(&d);
    cr_expect_str_eq(json_string_value(json_at(got, "advanced.external_metrics_webhook")),
                     "http://h/");
    cr_expect(json_is_real(json_at(got, "thresholds.cpu_threshold")));
    cr_expect(json_is_integer(json_at(got, "thresholds.queue_length_threshold")));
    cr_expect(json_is_integer(json_at(got, "replicas.max_replicas")));
    json_decref(got);
    json_decref(want);
}

/* Every field changed from its default: diff lists all of them, in
 * document order, and to_json merged back onto the defaults gives the same
 * configuration. */
static const char all_changed_text[] =
    "{'enabled':false,'zero_scaling_enabled':false,'scaling_strategy':'hybrid',"
    "'replicas':{'min_replicas':1,'max_replicas':7,'default_replicas':2},"
    "'thresholds':{'cpu_threshold':72.5,'memory_threshold':81,'gpu_threshold':86,"
    "'queue_length_threshold':11,'response_time_threshold_ms':1999.5},"
    "'cooldowns':{'scale_up_cooldown_seconds':61,'scale_down_cooldown_seconds':0.5,"
    "'zero_scale_cooldown_seconds':901},"
    "'timing':{'metrics_collection_interval_seconds':0.25,'decision_interval_seconds':0.5,"
    "'health_check_interval_seconds':61},"
    "'model_management':{'auto_unload_unused_models':false,'model_idle_timeout_minutes':0.1,"
    "'preload_popular_models':false,'max_concurrent_model_loads':3},"
    "'advanced':{'predictive_scaling':true,'custom_metrics_enabled':true,"
    "'external_metrics_webhook':'http://127.0.0.1:9/h','scaling_notifications_enabled':false},"
    "'scale_down_threshold':{'cpu_percent':19.5,'memory_percent':31,'idle_time_minutes':0.05},"
    "'zero_scale_threshold':{'idle_time_minutes':0.1,'no_requests_minutes':0.2},"
    "'cold_start_timeout_seconds':12.5,"
    "'reactive':{'target_concurrency':2.5,'stable_window_seconds':10,'panic_window_seconds':2,"
    "'panic_threshold':1.5}}";

static const char *const all_paths[] = {
    "enabled",
    "zero_scaling_enabled",
    "scaling_strategy",
    "replicas.min_replicas",
    "replicas.max_replicas",
    "replicas.default_replicas",
    "thresholds.cpu_threshold",
    "thresholds.memory_threshold",
    "thresholds.gpu_threshold",
    "thresholds.queue_length_threshold",
    "thresholds.response_time_threshold_ms",
    "cooldowns.scale_up_cooldown_seconds",
    "cooldowns.scale_down_cooldown_seconds",
    "cooldowns.zero_scale_cooldown_seconds",
    "timing.metrics_collection_interval_seconds",
    "timing.decision_interval_seconds",
    "timing.health_check_interval_seconds",
    "model_management.auto_unload_unused_models",
    "model_management.model_idle_timeout_minutes",
    "model_management.preload_popular_models",
    "model_management.max_concurrent_model_loads",
    "advanced.predictive_scaling",
    "advanced.custom_metrics_enabled",
    "advanced.external_metrics_webhook",
    "advanced.scaling_notifications_enabled",
    "scale_down_threshold.cpu_percent",
    "scale_down_threshold.memory_percent",
    "scale_down_threshold.idle_time_minutes",
    "zero_scale_threshold.idle_time_minutes",
    "zero_scale_threshold.no_requests_minutes",
    "cold_start_timeout_seconds",
    "reactive.target_concurrency",
    "reactive.stable_window_seconds",
    "reactive.panic_window_seconds",
    "reactive.panic_threshold",
};

Test(autoscaler, round_trip)
{
    autoscaler_config_t defaults, changed;
    config_autoscaler_defaults(&defaults);
    base_from(all_changed_text, &changed);

    json_t *diff = config_autoscaler_diff(&defaults, &changed);
    cr_expect_eq(json_array_size(diff), N_ROWS(all_paths));
    for (size_t i = 0; i < N_ROWS(all_paths) && i < json_array_size(diff); i++)
        cr_expect_str_eq(json_string_value(json_array_get(diff, i)), all_paths[i]);
    json_decref(diff);

    const autoscaler_config_t *configs[] = {&defaults, &changed};
    for (size_t i = 0; i < N_ROWS(configs); i++) {
        json_t *doc = config_autoscaler_to_json(configs[i]);
        autoscaler_config_t back;
        config_problems_t p;
        /* Onto the defaults, and onto the other configuration: the whole
         * document replaces every field either way. */
        cr_expect_eq(config_autoscaler_merge(&defaults, doc, &back, &p), 0, "%zu: %s", i,
                     p.count ? p.items[0].message : "");
        expect_same(configs[i], &back, "to_json then merge onto the defaults");
        cr_expect_eq(config_autoscaler_merge(configs[1 - i], doc, &back, &p), 0);
        expect_same(configs[i], &back, "to_json then merge onto the other");
        /* Through text too, as a file or a request body would carry it. */
        char *text = json_dumps(doc, 0);
        json_t *reparsed = json_loads(text, 0, NULL);
        cr_expect_eq(config_autoscaler_merge(&defaults, reparsed, &back, &p), 0);
        expect_same(configs[i], &back, "through text");
        json_t *again = config_autoscaler_to_json(&back);
        cr_expect(json_equal(doc, again));
        json_decref(again);
        json_decref(reparsed);
        free(text);
        json_decref(doc);
    }

    /* The built-in configuration and a file without the section carry the
     * defaults. */
    inferd_config_t *cfg = config_default();
    expect_same(&defaults, &cfg->autoscaler, "config_default");
    config_free(cfg);
}

/* updated_fields: exactly the leaves whose value changed, in document
 * order (not the request's), mirrored pairs under both names. */
typedef struct diff_case {
    const char *name;
    const char *base; /* NULL: the defaults */
    const char *doc;
    const char *want; /* JSON array */
} diff_case_t;

/* clang-format off */
static const diff_case_t diff_cases[] = {
    {"nothing", NULL, "{}", "[]"},
    {"same value", NULL, "{'thresholds':{'cpu_threshold':70}}", "[]"},
    {"same value as a real", NULL, "{'thresholds':{'cpu_threshold':70.0}}", "[]"},
    {"same values in several sections", NULL, "{'enabled':true,"
     "'replicas':{'max_replicas':5},'advanced':{'external_metrics_webhook':null}}", "[]"},
    {"one leaf", NULL, "{'thresholds':{'cpu_threshold':80}}", "['thresholds.cpu_threshold']"},
    {"document order, not the request's", NULL,
     "{'timing':{'decision_interval_seconds':5},'enabled':false}",
     "['enabled','timing.decision_interval_seconds']"},
    {"strategy and its mirror", NULL, "{'scaling_strategy':'hybrid'}",
     "['scaling_strategy','advanced.predictive_scaling']"},
    {"predictive_scaling and its mirror", NULL, "{'advanced':{'predictive_scaling':true}}",
     "['scaling_strategy','advanced.predictive_scaling']"},
    {"predictive to hybrid leaves the mirror alone", "{'scaling_strategy':'predictive'}",
     "{'scaling_strategy':'hybrid'}", "['scaling_strategy']"},
    {"idle timeout under both names", NULL, "{'zero_scale_threshold':{'idle_time_minutes':20}}",
     "['model_management.model_idle_timeout_minutes','zero_scale_threshold.idle_time_minutes']"},
    {"webhook set", NULL, "{'advanced':{'external_metrics_webhook':'http://h/'}}",
     "['advanced.external_metrics_webhook']"},
    {"webhook changed", "{'advanced':{'external_metrics_webhook':'http://h/'}}",
     "{'advanced':{'external_metrics_webhook':'http://h/x'}}",
     "['advanced.external_metrics_webhook']"},
    {"the spec's POST example", NULL,
     "{'enabled':true,'zero_scaling_enabled':true,"
     "'thresholds':{'cpu_threshold':80,'memory_threshold':85,'response_time_threshold_ms':1500},"
     "'cooldowns':{'scale_up_cooldown_seconds':45,'scale_down_cooldown_seconds':240},"
     "'model_management':{'auto_unload_unused_models':true,'model_idle_timeout_minutes':20}}",
     "['thresholds.cpu_threshold','thresholds.memory_threshold',"
     "'thresholds.response_time_threshold_ms','cooldowns.scale_up_cooldown_seconds',"
     "'cooldowns.scale_down_cooldown_seconds','model_management.model_idle_timeout_minutes',"
     "'zero_scale_threshold.idle_time_minutes']"},
};
/* clang-format on */

Test(autoscaler, diff)
{
    for (size_t r = 0; r < N_ROWS(diff_cases); r++) {
        const diff_case_t *c = &diff_cases[r];
        autoscaler_config_t base, out;
        config_problems_t p;
        base_from(c->base, &base);
        cr_assert_eq(merge_text(&base, c->doc, &out, &p), 0, "[%s] refused", c->name);
        json_t *got = config_autoscaler_diff(&base, &out);
        json_t *want = parse_text(c->want);
        char *g = json_dumps(got, JSON_COMPACT), *w = json_dumps(want, JSON_COMPACT);
        cr_expect_str_eq(g, w, "[%s] diff %s, expected %s", c->name, g, w);
        free(g);
        free(w);
        json_decref(want);
        json_decref(got);
        /* Symmetric. */
        got = config_autoscaler_diff(&out, &base);
        want = parse_text(c->want);
        cr_expect(json_equal(got, want), "[%s] reversed", c->name);
        json_decref(want);
        json_decref(got);
    }
}

Test(autoscaler, strategy_names)
{
    cr_expect_str_eq(config_strategy_name(STRATEGY_REACTIVE), "reactive");
    cr_expect_str_eq(config_strategy_name(STRATEGY_PREDICTIVE), "predictive");
    cr_expect_str_eq(config_strategy_name(STRATEGY_HYBRID), "hybrid");
    cr_expect_str_eq(config_strategy_name((scaling_strategy_t)7), "unknown");
}

/* ---- the live configuration: the autoscaler section plus "models" ---- */

/* "a" sets nothing of its own; "p" is pinned and sets its own max_replicas
 * and cold-start timeout. */
static const char live_file_text[] =
    "{'autoscaler':{'replicas':{'min_replicas':0,'max_replicas':4}},'models':["
    "{'name':'a','backend':'example'},"
    "{'name':'p','backend':'example','always_loaded':true,'max_replicas':2,"
    "'cold_start_timeout_seconds':5}]}";

typedef struct live_case {
    const char *name;
    const char *first; /* a change accepted before doc, or NULL */
    const char *doc;
    config_models_mode_t mode;
    const char *refused;   /* invalid_fields as a JSON array; NULL: accepted */
    const char *shows;     /* {"dotted path": value} of GET's document after */
    const char *updated;   /* updated_fields of doc */
    const char *overrides; /* the models' settings recorded, first and doc together */
} live_case_t;

#define CHANGE CONFIG_MODELS_CHANGE
#define STORED CONFIG_MODELS_STORED

/* clang-format off */
static const live_case_t live_cases[] = {
    {"nothing", NULL, "{}", CHANGE, NULL, "{'models.a.min_replicas':0,'models.p.min_replicas':1}",
     "[]", "{}"},
    {"a model's own bound", NULL, "{'models':{'a':{'max_replicas':3}}}", CHANGE, NULL,
     "{'models.a.max_replicas':3,'replicas.max_replicas':4}",
     "['models.a.max_replicas']", "{'a':{'max_replicas':3}}"},
    {"the autoscaler's bounds reach the models that inherit them", NULL,
     "{'replicas':{'min_replicas':1,'max_replicas':2}}", CHANGE, NULL,
     "{'models.a.min_replicas':1,'models.a.max_replicas':2,'models.p.min_replicas':1,"
     "'models.p.max_replicas':2}",
     "['replicas.min_replicas','replicas.max_replicas','models.a.min_replicas',"
     "'models.a.max_replicas']", "{}"},
    {"the cold-start default reaches models without their own", NULL,
     "{'cold_start_timeout_seconds':9}", CHANGE, NULL,
     "{'models.a.cold_start_timeout_seconds':9,'models.p.cold_start_timeout_seconds':5}",
     "['cold_start_timeout_seconds','models.a.cold_start_timeout_seconds']", "{}"},
    {"an inherited target_concurrency shows the autoscaler's", NULL,
     "{'reactive':{'target_concurrency':3}}", CHANGE, NULL,
     "{'models.a.target_concurrency':3,'models.p.target_concurrency':3}",
     "['reactive.target_concurrency','models.a.target_concurrency',"
     "'models.p.target_concurrency']", "{}"},
    {"a model's own target_concurrency stays its own", "{'models':{'a':{'target_concurrency':2}}}",
     "{'reactive':{'target_concurrency':3}}", CHANGE, NULL,
     "{'models.a.target_concurrency':2,'models.p.target_concurrency':3}",
     "['reactive.target_concurrency','models.p.target_concurrency']",
     "{'a':{'target_concurrency':2}}"},
    {"a value equal to the inherited one keeps the model inheriting",
     "{'models':{'a':{'min_replicas':0,'target_concurrency':1,'cold_start_timeout_seconds':60}}}",
     "{'replicas':{'min_replicas':2,'default_replicas':2}}", CHANGE, NULL,
     "{'models.a.min_replicas':2,'models.p.min_replicas':2}",
     "['replicas.min_replicas','replicas.default_replicas','models.a.min_replicas',"
     "'models.p.min_replicas']", "{}"},
    {"a model's own min stays when the autoscaler's changes",
     "{'models':{'a':{'min_replicas':1}}}", "{'replicas':{'min_replicas':2,'default_replicas':2}}",
     CHANGE, NULL, "{'models.a.min_replicas':1,'models.p.min_replicas':2}",
     "['replicas.min_replicas','replicas.default_replicas','models.p.min_replicas']",
     "{'a':{'min_replicas':1}}"},
    {"the model's value wins over the autoscaler's change in the same request", NULL,
     "{'replicas':{'min_replicas':1},'models':{'a':{'min_replicas':0}}}", CHANGE, NULL,
     "{'models.a.min_replicas':0,'models.p.min_replicas':1}",
     "['replicas.min_replicas']", "{'a':{'min_replicas':0}}"},
    {"a custom metric, name and target together", NULL,
     "{'models':{'a':{'custom_metric_name':'q','custom_metric_target':5}}}", CHANGE, NULL,
     "{'models.a.custom_metric_name':'q','models.a.custom_metric_target':5,"
     "'models.p.custom_metric_name':null}",
     "['models.a.custom_metric_name','models.a.custom_metric_target']",
     "{'a':{'custom_metric_name':'q','custom_metric_target':5}}"},
    {"a custom metric taken away, both null",
     "{'models':{'a':{'custom_metric_name':'q','custom_metric_target':5}}}",
     "{'models':{'a':{'custom_metric_name':null,'custom_metric_target':null}}}", CHANGE, NULL,
     "{'models.a.custom_metric_name':null,'models.a.custom_metric_target':null}",
     "['models.a.custom_metric_name','models.a.custom_metric_target']",
     "{'a':{'custom_metric_name':null,'custom_metric_target':null}}"},
    {"timeouts", NULL,
     "{'models':{'p':{'cold_start_timeout_seconds':0.5,'load_timeout_seconds':120}}}", CHANGE,
     NULL, "{'models.p.cold_start_timeout_seconds':0.5,'models.p.load_timeout_seconds':120}",
     "['models.p.cold_start_timeout_seconds','models.p.load_timeout_seconds']",
     "{'p':{'cold_start_timeout_seconds':0.5,'load_timeout_seconds':120}}"},
    {"a stored value is the model's own, equal or not", NULL,
     "{'models':{'a':{'min_replicas':0}}}", STORED, NULL, "{'models.a.min_replicas':0}", "[]",
     "{'a':{'min_replicas':0}}"},

    /* Refused: every problem named, nothing changed. */
    {"an unknown model", NULL, "{'models':{'nosuch':{'max_replicas':2}}}", CHANGE,
     "['models.nosuch']", NULL, NULL, NULL},
    {"an unknown field of a model", NULL, "{'models':{'a':{'max_queue_length':5}}}", CHANGE,
     "['models.a.max_queue_length']", NULL, NULL, NULL},
    {"models is not an object", NULL, "{'models':[]}", CHANGE, "['models']", NULL, NULL, NULL},
    {"a model's entry is not an object", NULL, "{'models':{'a':3}}", CHANGE, "['models.a']", NULL,
     NULL, NULL},
    {"out of range", NULL, "{'models':{'a':{'max_replicas':11,'load_timeout_seconds':0}}}",
     CHANGE, "['models.a.max_replicas','models.a.load_timeout_seconds']", NULL, NULL, NULL},
    {"min above the inherited max", NULL, "{'models':{'a':{'min_replicas':5}}}", CHANGE,
     "['models.a.min_replicas']", NULL, NULL, NULL},
    {"min above max, both given", NULL, "{'models':{'a':{'min_replicas':3,'max_replicas':2}}}",
     CHANGE, "['models.a.min_replicas','models.a.max_replicas']", NULL, NULL, NULL},
    {"an inherited min above a model's own max", NULL,
     "{'replicas':{'min_replicas':3,'default_replicas':3}}", CHANGE,
     "['replicas.min_replicas']", NULL, NULL, NULL},
    {"an inherited max below a model's own min", "{'models':{'a':{'min_replicas':3}}}",
     "{'replicas':{'max_replicas':2}}", CHANGE, "['replicas.max_replicas']", NULL, NULL, NULL},
    {"a pinned model's floor", NULL, "{'models':{'p':{'min_replicas':0}}}", CHANGE,
     "['models.p.min_replicas']", NULL, NULL, NULL},
    {"target_concurrency 0 through the API", NULL, "{'models':{'a':{'target_concurrency':0}}}",
     CHANGE, "['models.a.target_concurrency']", NULL, NULL, NULL},
    {"a custom metric without its target", NULL, "{'models':{'a':{'custom_metric_name':'q'}}}",
     CHANGE, "['models.a.custom_metric_name']", NULL, NULL, NULL},
    {"a custom metric target without its name", NULL,
     "{'models':{'a':{'custom_metric_target':2}}}", CHANGE, "['models.a.custom_metric_target']",
     NULL, NULL, NULL},
    {"autoscaler and model problems together", NULL,
     "{'thresholds':{'cpu_threshold':150},'models':{'nosuch':{}}}", CHANGE,
     "['thresholds.cpu_threshold','models.nosuch']", NULL, NULL, NULL},
    {"the root is not an object", NULL, "[]", CHANGE, "['(root)']", NULL, NULL, NULL},
};
/* clang-format on */

static inferd_config_t *live_base(void)
{
    char err[512];
    inferd_config_t *cfg = run_text(live_file_text, err, sizeof(err));
    cr_assert_not_null(cfg, "%s", err);
    return cfg;
}

static void expect_json_text(const json_t *got, const char *want_text, const char *what,
                             const char *name)
{
    json_t *want = parse_text(want_text);
    char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
    cr_expect(json_equal(got, want), "[%s] %s %s, expected %s", name, what, g, want_text);
    free(g);
    json_decref(want);
}

static void expect_live_refused(const live_case_t *c, int rc, config_problems_t *p,
                                const model_config_t *next)
{
    cr_expect_eq(rc, -1, "[%s] accepted", c->name);
    json_t *fields = json_array();
    for (size_t i = 0; i < p->count; i++) {
        json_array_append_new(fields, json_string(p->items[i].field));
        cr_expect(p->items[i].message[0], "[%s] %s: no message", c->name, p->items[i].field);
    }
    expect_json_text(fields, c->refused, "invalid_fields", c->name);
    json_decref(fields);
    cr_expect_eq(next[0].name[0], '\0', "[%s] out_models written", c->name);
    config_problems_clear(p);
}

static void expect_live_accepted(const live_case_t *c, const autoscaler_config_t *a,
                                 const model_config_t *before, const autoscaler_config_t *na,
                                 const model_config_t *next, size_t n, json_t *overrides)
{
    json_t *updated = config_live_diff(a, before, na, next, n);
    expect_json_text(updated, c->updated, "updated_fields", c->name);
    json_decref(updated);
    config_record_overrides(overrides, before, next, n);
    expect_json_text(overrides, c->overrides, "overrides", c->name);

    json_t *get = config_live_to_json(na, next, n);
    json_t *shows = parse_text(c->shows);
    const char *path;
    json_t *want;
    json_object_foreach (shows, path, want) {
        json_t *got = json_at(get, path);
        char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
        cr_expect(got && json_equal(got, want), "[%s] %s is %s", c->name, path, g ? g : "absent");
        free(g);
    }
    json_decref(shows);
    json_decref(get);
}

Test(live, merge)
{
    for (size_t r = 0; r < N_ROWS(live_cases); r++) {
        const live_case_t *c = &live_cases[r];
        inferd_config_t *cfg = live_base();
        size_t n = cfg->n_models;
        autoscaler_config_t a = cfg->autoscaler, na;
        model_config_t *models = calloc(n, sizeof(*models)), *next = calloc(n, sizeof(*next));
        memcpy(models, cfg->models, n * sizeof(*models));
        json_t *overrides = json_object();
        config_problems_t p;

        if (c->first) {
            json_t *doc = parse_text(c->first);
            cr_assert_eq(config_live_merge(&a, models, n, doc, CHANGE, &na, next, &p), 0,
                         "[%s] first refused: %s", c->name, p.count ? p.items[0].message : "");
            config_record_overrides(overrides, models, next, n);
            a = na;
            memcpy(models, next, n * sizeof(*models));
            memset(next, 0, n * sizeof(*next));
            json_decref(doc);
        }
        json_t *doc = parse_text(c->doc);
        int rc = config_live_merge(&a, models, n, doc, c->mode, &na, next, &p);
        json_decref(doc);
        if (c->refused) {
            expect_live_refused(c, rc, &p, next);
        } else {
            cr_expect_eq(rc, 0, "[%s] refused: %s %s", c->name, p.count ? p.items[0].field : "",
                         p.count ? p.items[0].message : "");
            if (rc == 0)
                expect_live_accepted(c, &a, models, &na, next, n, overrides);
        }
        json_decref(overrides);
        free(next);
        free(models);
        config_free(cfg);
    }
}

/* GET's answer posted back changes nothing, and leaves every inherited
 * setting inheriting. */
Test(live, get_posted_back_changes_nothing)
{
    inferd_config_t *cfg = live_base();
    size_t n = cfg->n_models;
    model_config_t next[2];
    autoscaler_config_t na;
    config_problems_t p;
    cr_assert_eq(n, 2);

    json_t *get = config_live_to_json(&cfg->autoscaler, cfg->models, n);
    cr_assert_eq(config_live_merge(&cfg->autoscaler, cfg->models, n, get, CHANGE, &na, next, &p), 0,
                 "%s", p.count ? p.items[0].message : "");
    json_t *updated = config_live_diff(&cfg->autoscaler, cfg->models, &na, next, n);
    cr_expect_eq(json_array_size(updated), 0);
    json_decref(updated);
    cr_expect_not(next[0].own.min_replicas);
    cr_expect_not(next[0].own.max_replicas);
    cr_expect_not(next[0].own.cold_start_timeout_seconds);
    cr_expect_eq(next[0].target_concurrency, 0);
    cr_expect(next[1].own.max_replicas);
    cr_expect(next[1].own.cold_start_timeout_seconds);

    /* The models' settings, in GET's order. */
    static const char *const keys[] = {
        "min_replicas",         "max_replicas",         "target_concurrency",
        "custom_metric_name",   "custom_metric_target", "cold_start_timeout_seconds",
        "load_timeout_seconds",
    };
    json_t *a = json_at(get, "models.a");
    cr_assert(json_is_object(a));
    void *it = json_object_iter(a);
    for (size_t i = 0; i < N_ROWS(keys); i++, it = json_object_iter_next(a, it)) {
        cr_assert_not_null(it, "%s missing", keys[i]);
        cr_expect_str_eq(json_object_iter_key(it), keys[i]);
    }
    cr_expect_null(it, "extra key in models.a");
    json_decref(get);
    config_free(cfg);
}

Test(live, restart_required)
{
    static const struct {
        const char *updated;
        bool restart;
    } rows[] = {
        {"[]", false},
        {"['thresholds.cpu_threshold','models.a.max_replicas']", false},
        {"['replicas.min_replicas','models.a.min_replicas']", false},
        {"['enabled','replicas.default_replicas']", true},
    };
    for (size_t r = 0; r < N_ROWS(rows); r++) {
        json_t *u = parse_text(rows[r].updated);
        cr_expect_eq(config_needs_restart(u), rows[r].restart, "%s", rows[r].updated);
        json_decref(u);
    }
}
