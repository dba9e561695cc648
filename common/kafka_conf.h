/*
 * kafka_conf.h - private to common/kafka_*.c: the conf builder of kafka_conf.c that the client
 * constructors (kafka_admin.c, kafka_producer.c, kafka_consumer.c) share. Code outside the
 * module includes kafka.h only.
 */
#ifndef SL_KAFKA_CONF_H
#define SL_KAFKA_CONF_H

#include "kafka.h"

/* The client a conf is for: it decides which properties are locked (see kafka.h). */
typedef enum sl_kafka_kind {
    SL_KAFKA_KIND_PRODUCER,
    SL_KAFKA_KIND_CONSUMER,
    SL_KAFKA_KIND_ADMIN
} sl_kafka_kind;

/*
 * Builds a conf in kafka.h's layers: defaults (NULL-terminated property, value pairs, or NULL),
 * then name_prop=name_val (group.id; name_prop NULL for none), then props, then the KAFKA_*
 * variables of envp (NULL = the process environment); every setting is checked against the
 * locked properties of kind. librdkafka's log is routed to sl_log. Returns the conf (the
 * caller owns it: rd_kafka_new takes it over, else rd_kafka_conf_destroy) or NULL with err.
 */
rd_kafka_conf_t *sl_kafka_build_conf(sl_kafka_kind kind, const char *const *defaults,
                                     const char *name_prop, const char *name_val,
                                     const char *const *props, char *const *envp, char *err,
                                     size_t errlen);

#endif /* SL_KAFKA_CONF_H */
