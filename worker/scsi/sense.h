/*
 * Sense keys and additional sense codes (SPC-4 4.5.6, annex D) by name.
 * An additional sense code is one 16-bit constant, ASC << 8 | ASCQ, so
 * that a grep for a condition finds every place that raises it; the
 * sense builders (worker/scsi/scsi.c) split it into its two bytes.
 */
#ifndef SCSIPUB_SENSE_H
#define SCSIPUB_SENSE_H

/* Sense keys. */
#define SK_NO_SENSE		0x0
#define SK_RECOVERED_ERROR	0x1
#define SK_NOT_READY		0x2
#define SK_MEDIUM_ERROR		0x3
#define SK_HARDWARE_ERROR	0x4
#define SK_ILLEGAL_REQUEST	0x5
#define SK_UNIT_ATTENTION	0x6
#define SK_DATA_PROTECT		0x7
#define SK_COPY_ABORTED		0xa
#define SK_ABORTED_COMMAND	0xb
#define SK_MISCOMPARE		0xe

#define SENSE_ASC(c)		(((c) >> 8) & 0xff)
#define SENSE_ASCQ(c)		((c) & 0xff)

/* Additional sense codes and qualifiers, ASC << 8 | ASCQ. */
#define ASC_NO_ADDITIONAL_SENSE		0x0000
#define ASC_BECOMING_READY		0x0401	/* in process of becoming ready */
#define ASC_NOT_READY_SANITIZE		0x041b	/* sanitize in progress */
#define ASC_WRITE_ERROR			0x0c00
#define ASC_COPY_TARGET_UNREACHABLE	0x0d02
#define ASC_READ_ERROR			0x1100	/* unrecovered read error */
#define ASC_PARAM_LIST_LENGTH_ERROR	0x1a00
#define ASC_MISCOMPARE_DURING_VERIFY	0x1d00
#define ASC_INVALID_OPCODE		0x2000
#define ASC_LBA_OUT_OF_RANGE		0x2100
#define ASC_INVALID_FIELD_IN_CDB	0x2400
#define ASC_LUN_NOT_SUPPORTED		0x2500
#define ASC_INVALID_FIELD_IN_PARAM_LIST	0x2600
#define ASC_INVALID_RELEASE_OF_PR	0x2604
#define ASC_TOO_MANY_TARGET_DESCS	0x2606
#define ASC_UNSUPPORTED_TARGET_DESC	0x2607
#define ASC_TOO_MANY_SEGMENT_DESCS	0x2608
#define ASC_UNSUPPORTED_SEGMENT_DESC	0x2609
#define ASC_WRITE_PROTECTED		0x2700
#define ASC_SOFTWARE_WRITE_PROTECTED	0x2702
#define ASC_SPACE_ALLOC_FAILED		0x2707
#define ASC_MEDIUM_MAY_HAVE_CHANGED	0x2800	/* not ready to ready */
#define ASC_POWER_ON_RESET		0x2900
#define ASC_BUS_DEVICE_RESET		0x2903
#define ASC_I_T_NEXUS_LOSS		0x2907
#define ASC_MODE_PARAMS_CHANGED		0x2a01
#define ASC_RESERVATIONS_PREEMPTED	0x2a03
#define ASC_RESERVATIONS_RELEASED	0x2a04
#define ASC_REGISTRATIONS_PREEMPTED	0x2a05
#define ASC_CAPACITY_CHANGED		0x2a09
#define ASC_COMMANDS_CLEARED_BY_OTHER	0x2f00
#define ASC_SANITIZE_FAILED		0x3103
#define ASC_SAVING_PARAMS_UNSUPPORTED	0x3900
#define ASC_LUNS_DATA_CHANGED		0x3f0e
#define ASC_INTERNAL_TARGET_FAILURE	0x4400
#define ASC_DATA_PHASE_ERROR		0x4b00	/* iSCSI: DataSN order */
#define ASC_INVALID_TTT			0x4b01	/* invalid target port transfer tag */
#define ASC_TOO_MUCH_WRITE_DATA		0x4b02
#define ASC_DATA_OFFSET_ERROR		0x4b05
#define ASC_SYSTEM_RESOURCE_FAILURE	0x5500
#define ASC_INSUFFICIENT_RESOURCES	0x5503
#define ASC_INSUFFICIENT_REG_RESOURCES	0x5504

#endif /* SCSIPUB_SENSE_H */
