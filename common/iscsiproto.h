/*
 * iSCSI on the wire (RFC 7143 11): opcodes, header flags, reject
 * reasons and login status classes, for the target and for the tests'
 * initiator alike.
 */
#ifndef SCSIPUB_ISCSIPROTO_H
#define SCSIPUB_ISCSIPROTO_H

#define ISCSI_BHS_LEN		48
#define ISCSI_NAME_MAX		224	/* an iSCSI name and its NUL */
#define ISCSI_OP_MASK		0x3f
#define ISCSI_OP_IMMEDIATE	0x40	/* I, byte 0 */
#define ISCSI_FLAG_FINAL	0x80	/* F, byte 1 */
#define ISCSI_TTT_NONE		0xffffffffU	/* also "no ITT" */

/* Opcodes, initiator to target. */
#define OP_NOP_OUT		0x00
#define OP_SCSI_CMD		0x01
#define OP_TMF_REQ		0x02
#define OP_LOGIN_REQ		0x03
#define OP_TEXT_REQ		0x04
#define OP_DATA_OUT		0x05
#define OP_LOGOUT_REQ		0x06
#define OP_SNACK_REQ		0x10
/* Target to initiator. */
#define OP_NOP_IN		0x20
#define OP_SCSI_RSP		0x21
#define OP_TMF_RSP		0x22
#define OP_LOGIN_RSP		0x23
#define OP_TEXT_RSP		0x24
#define OP_DATA_IN		0x25
#define OP_LOGOUT_RSP		0x26
#define OP_R2T			0x31
#define OP_ASYNC		0x32
#define OP_REJECT		0x3f

/* Reject reasons (RFC 7143 11.17.1). */
#define REJECT_DIGEST_ERROR	0x02
#define REJECT_SNACK		0x03
#define REJECT_PROTOCOL		0x04
#define REJECT_NOT_SUPPORTED	0x05
#define REJECT_IMMEDIATE	0x06
#define REJECT_TASK_IN_PROGRESS	0x07
#define REJECT_INVALID_DATA_ACK	0x08
#define REJECT_INVALID_FIELD	0x09
#define REJECT_OUT_OF_RESOURCES	0x0a
#define REJECT_WAITING_LOGOUT	0x0c

/* Login Response status (RFC 7143 11.13.5): class << 8 | detail. */
#define LOGIN_STATUS_SUCCESS		0x0000
#define LOGIN_STATUS_MOVED_TEMP		0x0101	/* with TargetAddress */
#define LOGIN_STATUS_INITIATOR_ERROR	0x0200
#define LOGIN_STATUS_AUTH_FAILED	0x0201
#define LOGIN_STATUS_FORBIDDEN		0x0202
#define LOGIN_STATUS_NOT_FOUND		0x0203
#define LOGIN_STATUS_BAD_VERSION	0x0205
#define LOGIN_STATUS_MISSING_PARAM	0x0207
#define LOGIN_STATUS_NO_SESSION_TYPE	0x0209
#define LOGIN_STATUS_NO_SESSION		0x020a
#define LOGIN_STATUS_INVALID_REQUEST	0x020b
#define LOGIN_STATUS_TARGET_ERROR	0x0300
#define LOGIN_STATUS_NO_RESOURCES	0x0302

#endif /* SCSIPUB_ISCSIPROTO_H */
