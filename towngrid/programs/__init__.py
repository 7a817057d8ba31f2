"""实事项目, annual targets with completion rates, and pipelines such as 加梯 签约/开工/竣工."""
