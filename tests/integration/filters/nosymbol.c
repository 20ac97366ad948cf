/* nosymbol.c - a shared object that is not a postern filter. */
int not_a_filter(void);

int
not_a_filter(void)
{
	return 0;
}
