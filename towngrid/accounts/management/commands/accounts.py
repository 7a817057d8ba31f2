"""``towngrid accounts …``: user administration from the command line.

    towngrid accounts create-user USERNAME --role CODE [--scope GRIDCODE] [--department CODE]
                                  [--name 姓名] [--password-stdin]
    towngrid accounts reset-password USERNAME [--password-stdin]   (must change at next login)
    towngrid accounts unlock USERNAME
    towngrid accounts roles

The password is asked for twice at the terminal, or read from the first line of standard input
with ``--password-stdin`` (for scripts; never on the command line, where ``ps`` would show it).
Every check and the audit record are in ``accounts.actions.create_user``.
"""

import getpass
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from towngrid.accounts import actions
from towngrid.accounts.models import Role


class Command(BaseCommand):
    help = "User administration: create-user, roles."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
        sub.required = True
        create = sub.add_parser(
            "create-user",
            help="Create a user with a role and its grid scope or department.",
            description="Create a user. Grid-scoped roles need --scope, department roles need "
            "--department; the password must pass the configured validators.",
        )
        create.add_argument("username")
        create.add_argument(
            "--role", required=True, help="role code, see `towngrid accounts roles`"
        )
        create.add_argument("--scope", help="grid code of the user's scope (grid-scoped roles)")
        create.add_argument("--department", help="department code (department roles)")
        create.add_argument("--name", default="", help="display name (姓名)")
        create.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input",
        )
        create.add_argument("--reason", default="", help="why, for the audit trail")
        reset = sub.add_parser(
            "reset-password", help="Set a new password that the user must change at next login."
        )
        reset.add_argument("username")
        reset.add_argument("--password-stdin", action="store_true")
        reset.add_argument("--reason", default="", help="why, for the audit trail")
        unlock = sub.add_parser("unlock", help="End a lockout after failed logins.")
        unlock.add_argument("username")
        unlock.add_argument("--reason", default="", help="why, for the audit trail")
        sub.add_parser("roles", help="List the roles and what scope each needs.")

    def handle(self, *args, **options):
        translation.activate(settings.LANGUAGE_CODE)  # validators' messages in Chinese
        command = options["subcommand"]
        if command == "roles":
            return self.roles()
        if command == "reset-password":
            return self.reset_password(options)
        if command == "unlock":
            return self.unlock(options)
        return self.create_user(options)

    def _user(self, username):
        from towngrid.accounts.models import User

        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"用户 {username} 不存在。")
        return user

    def reset_password(self, options):
        user = self._user(options["username"])
        password = self.read_password(options["password_stdin"])
        try:
            actions.reset_password(None, user, password, reason=options["reason"] or "CLI")
        except actions.AccountActionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"已重置 {user.username} 的密码；下次登录须修改。"))

    def unlock(self, options):
        user = self._user(options["username"])
        actions.unlock(None, user, reason=options["reason"] or "CLI")
        self.stdout.write(self.style.SUCCESS(f"已解除 {user.username} 的锁定。"))

    def roles(self):
        for role in Role.objects.order_by("sort", "code"):
            self.stdout.write(f"{role.code:<16} {role.scope_kind:<11} {role.name}")

    def create_user(self, options):
        password = self.read_password(options["password_stdin"])
        try:
            user = actions.create_user(
                options["username"],
                role=options["role"],
                password=password,
                scope=options["scope"],
                department=options["department"],
                display_name=options["name"],
                reason=options["reason"] or "created with `towngrid accounts create-user`",
            )
        except actions.AccountActionError as exc:
            raise CommandError(str(exc)) from exc
        where = user.scope or user.department or "—"
        self.stdout.write(
            self.style.SUCCESS(f"已创建用户 {user.username}（{user.role.name}，范围：{where}）。")
        )

    def read_password(self, from_stdin: bool) -> str:
        if from_stdin:
            line = sys.stdin.readline()
            password = line.rstrip("\r\n")
            if not password:
                raise CommandError("标准输入中没有密码。")
            return password
        if not sys.stdin.isatty():
            raise CommandError("不是终端：请用 --password-stdin 从标准输入提供密码。")
        first = getpass.getpass("密码: ")
        second = getpass.getpass("再次输入密码: ")
        if first != second:
            raise CommandError("两次输入的密码不一致。")
        return first
