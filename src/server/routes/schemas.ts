/**
 * The request schemas of the API and the pages (TypeBox → JSON Schema: fastify validates with
 * them, @fastify/swagger documents them). Every value that names something (a layer, a target, a
 * user, an id) has the shape the site config or the store gives it, so `..%2F..` or `1;drop` is a
 * 400 before any handler sees it.
 */
import { Type } from "typebox";
import { NAME_RE } from "../../site/names.js";
import { CANDIDATE_STATES } from "../../store/candidate-states.js";
import { RUN_STATES } from "../../store/runs.js";

export const Name = Type.String({ pattern: NAME_RE.source, maxLength: 64 });
export const Id = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });
export const Arch = Type.String({ pattern: "^[a-z0-9_]{1,32}$" });
/** One line of text a person writes (a reason, a note). */
export const Line = Type.String({ minLength: 1, maxLength: 500, pattern: "^[^\\u0000-\\u001f\\u007f]*$" });
export const LayerDir = Type.String({
  pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*/compat/[A-Za-z0-9_-]+/[A-Za-z0-9_]+$",
  maxLength: 200,
});
export const Limit = Type.Integer({ minimum: 1, maximum: 5000 });

export const IdParams = Type.Object({ id: Id });
export const LayerParams = Type.Object({ layer: Name });
export const TargetParams = Type.Object({ target: Name });
export const UserParams = Type.Object({ name: Name });

export const CandidateQuery = Type.Object(
  {
    state: Type.Optional(Type.Union([Type.Literal(""), ...CANDIDATE_STATES.map((s) => Type.Literal(s))])),
    layer: Type.Optional(Type.Union([Type.Literal(""), Name])),
    arch: Type.Optional(Type.Union([Type.Literal(""), Arch])),
    limit: Type.Optional(Limit),
  },
  { additionalProperties: false },
);

export const FindingQuery = Type.Object(
  {
    severity: Type.Optional(Type.Array(Type.String({ pattern: "^[a-z]{1,16}$" }), { maxItems: 10 })),
    source: Type.Optional(Type.Union([Type.Literal(""), Type.String({ pattern: "^[a-z0-9-]{1,32}$" })])),
    layer: Type.Optional(Type.Union([Type.Literal(""), Name])),
    arch: Type.Optional(Type.Union([Type.Literal(""), Arch])),
    target: Type.Optional(Type.Union([Type.Literal(""), Name])),
    status: Type.Optional(Type.Union([Type.Literal("open"), Type.Literal("resolved"), Type.Literal("all")])),
    limit: Type.Optional(Limit),
  },
  { additionalProperties: false },
);

export const RunQuery = Type.Object(
  {
    state: Type.Optional(Type.Union([Type.Literal(""), ...RUN_STATES.map((s) => Type.Literal(s))])),
    layer: Type.Optional(Type.Union([Type.Literal(""), Name])),
    limit: Type.Optional(Limit),
  },
  { additionalProperties: false },
);

export const AuditQuery = Type.Object(
  {
    before: Type.Optional(Id),
    subject: Type.Optional(Type.String({ maxLength: 200, pattern: "^[^\\u0000-\\u001f\\u007f]*$" })),
    limit: Type.Optional(Limit),
  },
  { additionalProperties: false },
);

/** Forms carry their CSRF token as a field; the JSON API may send it as a header instead. */
const Csrf = { _csrf: Type.Optional(Type.String({ maxLength: 100 })) };

export const UpdateBody = Type.Object(
  {
    layer: Name,
    arch: Arch,
    from: Type.Optional(Name),
    packages: Type.Optional(
      Type.Array(Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9+_.:/<>=~*@-]{0,199}$" }), { maxItems: 200 }),
    ),
    reason: Type.Optional(Line),
    ...Csrf,
  },
  { additionalProperties: false },
);

/** The layer page's form: the layer is in the path. */
export const UpdateForm = Type.Object(
  {
    arch: Arch,
    from: Type.Optional(Name),
    reason: Type.Optional(Type.Union([Type.Literal(""), Line])),
    ...Csrf,
  },
  { additionalProperties: false },
);

export const VerdictBody = Type.Object(
  { reason: Type.Optional(Type.Union([Type.Literal(""), Line])), ...Csrf },
  { additionalProperties: false },
);

export const PromoteBody = Type.Object({ target: Name, ...Csrf }, { additionalProperties: false });

export const RollbackBody = Type.Object({ layer: LayerDir, ...Csrf }, { additionalProperties: false });

export const EmptyBody = Type.Object({ ...Csrf }, { additionalProperties: false });

const Role = Type.Union([
  Type.Literal("viewer"),
  Type.Literal("maintainer"),
  Type.Literal("approver"),
  Type.Literal("admin"),
]);

export const NewUserBody = Type.Object(
  {
    name: Name,
    roles: Type.Array(Role, { minItems: 1, maxItems: 4, uniqueItems: true }),
    password: Type.Optional(Type.String({ maxLength: 1024 })),
    expiresDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500 })),
    ...Csrf,
  },
  { additionalProperties: false },
);

export const NewTokenBody = Type.Object(
  {
    label: Type.Optional(Type.String({ pattern: "^[\\p{L}\\p{N} ._:-]{1,64}$" })),
    expiresDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500 })),
    ...Csrf,
  },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  {
    user: Type.Optional(Type.String({ maxLength: 64 })),
    password: Type.Optional(Type.String({ maxLength: 1024 })),
    token: Type.Optional(Type.String({ maxLength: 100 })),
    next: Type.Optional(Type.String({ maxLength: 500 })),
    _csrf: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);
